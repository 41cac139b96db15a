"""Registers the fixtures of containers.py (image, run, mode...) for this directory."""

from containers import commit, engine, image, mode, run, version

__all__ = ["commit", "engine", "image", "mode", "run", "version"]
