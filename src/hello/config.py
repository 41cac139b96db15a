"""Typed settings, read once at start from ``HELLO_*`` environment variables.

pydantic-settings parses and validates them; a bad value raises
:class:`ConfigError` whose message names the variable and what it accepts, so
the process stops at start instead of misbehaving later.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "HELLO_"


class ConfigError(ValueError):
    """A ``HELLO_*`` variable holds a value the service cannot run with."""


class Settings(BaseSettings):
    """Every setting of the service; the field name is the variable without its prefix."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="ignore")

    message: str | None = Field(
        None, min_length=1, description="any non-empty text (default: the view's greeting)"
    )
    faults: bool = Field(True, description="on or off (also true/false, 1/0)")
    max_delay: float = Field(30.0, ge=0, le=300, description="a number of seconds, 0 to 300")
    commit: str = Field("unknown", min_length=1, description="the git commit of the build")
    drain_file: Path | None = Field(
        None, description="a path; while that file exists, /readyz answers 503"
    )
    access_log: bool = Field(True, description="on or off")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="DEBUG, INFO, WARNING or ERROR"
    )
    metrics: bool = Field(True, description="on or off")
    # Server settings, read by hello.gunicorn_conf.
    bind: str = Field("127.0.0.1:8000", min_length=1, description="HOST:PORT or unix:PATH")
    workers: int = Field(4, ge=1, le=64, description="an integer, 1 to 64")
    metrics_bind: str = Field(
        "127.0.0.1:8080", pattern=r"^[^:]*:\d+$", description="HOST:PORT, or an empty HOST for all"
    )


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read the settings from the environment; ``overrides`` (tests) win over it.

    Raises :class:`ConfigError` naming every bad variable and its accepted values.
    """
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0])
        accepted = Settings.model_fields[field].description
        lines.append(
            f"{PREFIX}{field.upper()}={error.get('input')!r} is invalid: "
            f"{error['msg']}; accepted: {accepted}"
        )
    return "bad configuration: " + " | ".join(lines)
