"""hello: a small Flask service that walks through the whole DevOps lifecycle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application; ``test_config`` overrides ``HELLO_*`` settings in tests.

    A bad setting raises :class:`hello.config.ConfigError` here, at start.
    """
    # Imported on call: gunicorn's master imports hello.config only, so it loads
    # no app code and creates no metric files of its own; each worker does.
    from hello.app import create_app as build

    return build(test_config)
