"""Fixtures shared by the test modules: the app, its test client, and tool checks."""

from __future__ import annotations

import os

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hello import create_app


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own HELLO_* variables must not change what the tests see."""
    for key in list(os.environ):
        if key.startswith("HELLO_"):
            monkeypatch.delenv(key)


@pytest.fixture
def app() -> Flask:
    app = create_app({"commit": "0123abc", "max_delay": 2})
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
