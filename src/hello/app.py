"""The application factory: builds the Flask app from its settings and extensions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from hello import errors, health, logs, metrics, views
from hello.config import load_settings


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application; ``test_config`` overrides ``HELLO_*`` settings in tests.

    A bad setting raises :class:`hello.config.ConfigError` here, at start.
    """
    settings = load_settings(test_config)
    app = Flask(__name__)
    app.config["HELLO"] = settings
    app.json.sort_keys = False  # keep the documented field order in JSON answers

    logs.init_app(app)
    errors.init_app(app)
    metrics.init_app(app)
    health.init_app(app)
    views.init_app(app)
    return app
