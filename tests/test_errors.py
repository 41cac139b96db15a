"""Every error answer is JSON with the right status; tracebacks go to the log only."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient


def test_unknown_path_is_json_404(client: FlaskClient) -> None:
    """An unknown path answers 404 as JSON, not Flask's HTML page."""
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.is_json
    assert response.get_json()["status"] == 404
    assert "<html" not in response.get_data(as_text=True).lower()


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_wrong_method_is_json_405_with_allow(client: FlaskClient, method: str) -> None:
    """A wrong method answers 405 as JSON and keeps the Allow header."""
    response = getattr(client, method)("/")
    assert response.status_code == 405
    assert response.get_json()["status"] == 405
    assert "GET" in response.headers["Allow"]


def test_handler_that_raises_is_json_500_without_traceback(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug answers 500 JSON with no traceback; the traceback is in the log."""

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internal detail")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal server error", "status": 500}
    body = response.get_data(as_text=True)
    assert "Traceback" not in body
    assert "secret internal detail" not in body

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert "RuntimeError: secret internal detail" in errors[0]["exc_info"]
    assert "Traceback" in errors[0]["exc_info"]
