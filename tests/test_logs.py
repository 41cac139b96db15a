"""One JSON log line per request, and the request id that ties them together."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from hello import create_app


def _access_lines(out: str) -> list[dict]:
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [line for line in lines if line["logger"] == "hello.access"]


def test_one_json_line_per_request(client: FlaskClient, capsys: pytest.CaptureFixture[str]) -> None:
    """Each request writes exactly one JSON line with method, path, status, duration, id."""
    client.get("/")
    client.get("/status/503")
    first, second = _access_lines(capsys.readouterr().out)
    assert first["method"] == "GET"
    assert first["path"] == "/"
    assert first["status"] == 200
    assert first["duration_ms"] >= 0
    assert second["path"] == "/status/503"
    assert second["status"] == 503
    assert first["request_id"] != second["request_id"]


def test_incoming_request_id_is_honoured(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """An incoming X-Request-ID is returned and logged unchanged."""
    response = client.get("/", headers={"X-Request-ID": "abc-123.def"})
    assert response.headers["X-Request-ID"] == "abc-123.def"
    assert _access_lines(capsys.readouterr().out)[0]["request_id"] == "abc-123.def"


@pytest.mark.parametrize("bad", ["", "a" * 129, "evil\nline", 'quote"s', "sp ace"])
def test_unsafe_request_id_is_replaced(client: FlaskClient, bad: str) -> None:
    """A missing, huge or odd request id is replaced by a fresh one."""
    headers = {"X-Request-ID": bad} if "\n" not in bad else {}
    response = client.get("/", headers=headers)
    returned = response.headers["X-Request-ID"]
    assert returned != bad
    assert len(returned) == 32


def test_errors_carry_the_request_id(client: FlaskClient) -> None:
    """Error answers return the request id too, to find them in the log."""
    response = client.get("/nope", headers={"X-Request-ID": "find-me"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "find-me"


def test_access_log_can_be_turned_off(capsys: pytest.CaptureFixture[str]) -> None:
    """HELLO_ACCESS_LOG=off: no access line (nginx logs in the container), id still returned."""
    client = create_app({"access_log": "off"}).test_client()
    response = client.get("/")
    assert "X-Request-ID" in response.headers
    assert _access_lines(capsys.readouterr().out) == []
