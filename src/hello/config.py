"""Typed settings, read once at start from ``HELLO_*`` environment variables.

pydantic-settings parses and validates them; a bad value raises
:class:`ConfigError` whose message names the variable and what it accepts, so
the process stops at start instead of misbehaving later.
"""

from __future__ import annotations

import math
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
    workers: int | None = Field(
        None, ge=1, le=64, description="an integer, 1 to 64 (default: 4 per CPU of HELLO_CPU_LIMIT)"
    )
    cpu_limit: int | None = Field(
        None,
        ge=1,
        description="the container's CPU limit in millicores (Kubernetes: resourceFieldRef "
        "limits.cpu with divisor 1m)",
    )
    metrics_bind: str = Field(
        "127.0.0.1:8080", pattern=r"^[^:]*:\d+$", description="HOST:PORT, or an empty HOST for all"
    )


# The seminar's 4 sync workers, per CPU the container may use.
WORKERS_PER_CPU = 4
DEFAULT_WORKERS = 4


def worker_count(settings: Settings) -> int:
    """HELLO_WORKERS if set; else 4 per CPU of the container's limit; else 4.

    Tied to the CPU *limit*, never to the node's CPU count (what gunicorn's
    examples use): a pod limited to 1 CPU on a 64-core node must not fork 129.
    """
    if settings.workers is not None:
        return settings.workers
    if settings.cpu_limit is not None:
        return max(1, min(64, math.ceil(WORKERS_PER_CPU * settings.cpu_limit / 1000)))
    return DEFAULT_WORKERS


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
