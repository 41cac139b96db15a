"""The endpoints a student sees: greeting, version, and the two teaching endpoints."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from hello import create_app


def test_index_greets_in_plain_text(client: FlaskClient) -> None:
    """GET / answers the default greeting as text/plain."""
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "Hello, World!\n"


def test_message_setting_overrides_greeting() -> None:
    """HELLO_MESSAGE replaces the greeting without a code change."""
    client = create_app({"message": "Bonjour, le monde !"}).test_client()
    assert client.get("/").get_data(as_text=True) == "Bonjour, le monde !\n"


def test_version_reports_build_and_process(client: FlaskClient) -> None:
    """GET /version tells which build and which process (pod) answered."""
    response = client.get("/version")
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["version", "commit", "hostname", "python", "started_at"]
    assert body["commit"] == "0123abc"
    assert body["version"] == "1.0.0"
    assert body["hostname"]
    assert body["started_at"].endswith("+00:00")


@pytest.mark.parametrize("seconds", ["0", "0.05", "2", "1.5e-2"])
def test_delay_waits_then_answers(client: FlaskClient, seconds: str) -> None:
    """GET /delay/<s> answers after s seconds, for 0 <= s <= max_delay."""
    response = client.get(f"/delay/{seconds}")
    assert response.status_code == 200
    assert response.get_json() == {"delay": float(seconds)}


def test_delay_really_sleeps(client: FlaskClient) -> None:
    """The delay is real time, not just an echo (lower bound only: never flaky)."""
    import time

    start = time.monotonic()
    client.get("/delay/0.2")
    assert time.monotonic() - start >= 0.2


@pytest.mark.parametrize(
    "seconds", ["abc", "-1", "1e9", "2.001", "nan", "inf", "-inf", "0x10", "", "1,5"]
)
def test_delay_rejects_bad_values(client: FlaskClient, seconds: str) -> None:
    """Not a number or out of [0, max_delay]: 400 with a JSON error."""
    response = client.get(f"/delay/{seconds}")
    # An empty value does not match the route at all.
    expected = 404 if seconds == "" else 400
    assert response.status_code == expected
    assert response.get_json()["status"] == expected
    assert response.get_json()["error"]


@pytest.mark.parametrize("code", [200, 201, 302, 404, 418, 500, 503, 599])
def test_status_answers_that_status(client: FlaskClient, code: int) -> None:
    """GET /status/<code> answers with that status for 200..599."""
    response = client.get(f"/status/{code}")
    assert response.status_code == code
    assert response.get_json()["status"] == code


@pytest.mark.parametrize("code", [204, 304])
def test_status_without_body(client: FlaskClient, code: int) -> None:
    """204 and 304 must not carry a body."""
    response = client.get(f"/status/{code}")
    assert response.status_code == code
    assert response.get_data() == b""


@pytest.mark.parametrize(
    "code",
    [
        "99",
        "100",
        "199",
        "600",
        "abc",
        "+200",
        "2000",
        "020",
        "\uff12\uff10\uff10",
    ],  # fullwidth digits
)
def test_status_rejects_bad_codes(client: FlaskClient, code: str) -> None:
    """1xx, 600+, text or odd spellings: 400 with a JSON error."""
    response = client.get(f"/status/{code}")
    assert response.status_code == 400
    assert response.get_json() == {"error": response.get_json()["error"], "status": 400}


@pytest.mark.parametrize("path", ["/delay/1", "/status/500"])
def test_faults_off_removes_teaching_endpoints(path: str) -> None:
    """HELLO_FAULTS=off: /delay and /status do not exist (404 JSON)."""
    client = create_app({"faults": "off"}).test_client()
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["status"] == 404
