"""Liveness and readiness, including the drain file shared with the entrypoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hello import create_app


def test_healthz_is_ok(client: FlaskClient) -> None:
    """Liveness answers 200 while the process serves."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_ready_without_drain_file(client: FlaskClient) -> None:
    """No drain file configured: ready."""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}


@pytest.mark.parametrize(
    ("content", "status"), [("starting", "starting"), ("draining\n", "draining"), ("", "draining")]
)
def test_readyz_follows_drain_file(tmp_path: Path, content: str, status: str) -> None:
    """While the drain file exists /readyz answers 503 with its reason; then 200 again."""
    drain = tmp_path / "draining"
    client = create_app({"drain_file": drain}).test_client()
    assert client.get("/readyz").status_code == 200

    drain.write_text(content)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": status}
    # Liveness is not readiness: a draining process is still alive.
    assert client.get("/healthz").status_code == 200

    drain.unlink()
    assert client.get("/readyz").status_code == 200
