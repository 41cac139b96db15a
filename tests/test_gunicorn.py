"""The real gunicorn with hello's configuration, as `make run` starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from servers import free_port, gunicorn, in_flight, run_gunicorn_until_exit, scrape, wait_until

pytestmark = pytest.mark.integration


def test_serves_over_http_then_stops_cleanly(tmp_path: Path) -> None:
    """gunicorn serves /, /version and a JSON 404 with the environment's settings;
    SIGTERM stops it with exit code 0."""
    # The greeting comes from the environment, so the workshop's first exercise
    # (changing the default in index()) only touches tests/test_views.py.
    env = {"HELLO_COMMIT": "feedbeef", "HELLO_MESSAGE": "Hello from gunicorn"}
    with gunicorn(tmp_path, env=env) as server:
        index = requests.get(server.url + "/", timeout=5)
        assert (index.status_code, index.text) == (200, "Hello from gunicorn\n")
        assert index.headers["X-Request-ID"]

        version = requests.get(server.url + "/version", timeout=5).json()
        assert version["commit"] == "feedbeef"

        missing = requests.get(server.url + "/missing", timeout=5)
        assert missing.status_code == 404
        assert missing.json()["status"] == 404

        assert server.stop() == 0
    assert '"path": "/version"' in server.logs()


def test_sigterm_lets_in_flight_request_complete(tmp_path: Path) -> None:
    """A /delay/2 in flight when SIGTERM arrives still answers 200; then exit code 0."""
    with gunicorn(tmp_path) as server:
        result: dict[str, object] = {}

        def slow_request() -> None:
            try:
                response = requests.get(server.url + "/delay/2", timeout=30)
                result["status"] = response.status_code
            except requests.RequestException as exc:  # recorded, asserted below
                result["error"] = repr(exc)

        thread = threading.Thread(target=slow_request)
        thread.start()
        # Signal only once the request is being served, not merely sent.
        assert wait_until(lambda: in_flight(scrape(server.metrics_url)) >= 1, timeout=5)
        server.process.send_signal(signal.SIGTERM)
        thread.join(30)
        assert result == {"status": 200}
        assert server.process.wait(30) == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [("HELLO_WORKERS", "0"), ("HELLO_FAULTS", "maybe"), ("HELLO_MAX_DELAY", "soon")],
)
def test_bad_setting_stops_gunicorn_at_start(tmp_path: Path, variable: str, value: str) -> None:
    """A bad HELLO_* value stops gunicorn before it forks, naming the variable."""
    result = run_gunicorn_until_exit({variable: value, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert variable in result.stderr
    assert "accepted:" in result.stderr
    assert "Traceback" not in result.stderr


def test_metrics_need_multiproc_dir(tmp_path: Path) -> None:
    """Without PROMETHEUS_MULTIPROC_DIR, metrics under gunicorn would be wrong: refuse."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    result = run_gunicorn_until_exit({"HELLO_BIND": f"127.0.0.1:{free_port()}", **env})
    assert result.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR" in result.stderr


def test_flask_development_server(tmp_path: Path) -> None:
    """The seminar's development loop: `flask --app hello run` serves the app."""
    port = free_port()
    env = {**os.environ, "HELLO_METRICS": "off", "HELLO_MESSAGE": "Hello from flask run"}
    with subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "hello", "run", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as process:
        try:
            url = f"http://127.0.0.1:{port}/"
            assert wait_until(lambda: requests.get(url, timeout=1).ok, timeout=20)
            assert requests.get(url, timeout=5).text == "Hello from flask run\n"
        finally:
            process.terminate()
            process.wait(10)
