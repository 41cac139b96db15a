"""Start real servers (gunicorn) as subprocesses on free loopback ports, for tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

GUNICORN = [
    sys.executable,
    "-m",
    "gunicorn",
    "-c",
    "python:hello.gunicorn_conf",
    "hello:create_app()",
]


def free_port() -> int:
    """A TCP port nobody listens on right now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float = 20.0, interval: float = 0.05) -> bool:
    """Call ``check`` until it returns true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except (OSError, requests.RequestException):
            pass
        time.sleep(interval)
    return False


def scrape(metrics_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample the metrics port serves now, keyed by name and sorted labels."""
    response = requests.get(metrics_url + "/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def in_flight(samples: dict) -> float:
    return samples[("hello_http_requests_in_flight", ())]


@dataclass
class Gunicorn:
    """A running gunicorn: its process, its URLs and its log files."""

    process: subprocess.Popen
    url: str
    metrics_url: str
    stdout: Path
    stderr: Path

    def logs(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, as an orchestrator stops it; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


@contextmanager
def gunicorn(
    tmp_path: Path, env: Mapping[str, str] | None = None, workers: int = 2
) -> Iterator[Gunicorn]:
    """Run the real gunicorn with hello's config until the block ends; wait for /readyz."""
    port, metrics_port = free_port(), free_port()
    multiproc = tmp_path / "metrics"
    multiproc.mkdir(exist_ok=True)
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HELLO_")},
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "HELLO_BIND": f"127.0.0.1:{port}",
        "HELLO_METRICS_BIND": f"127.0.0.1:{metrics_port}",
        "HELLO_WORKERS": str(workers),
        **(env or {}),
    }
    stdout, stderr = tmp_path / "gunicorn.out", tmp_path / "gunicorn.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(GUNICORN, env=full_env, stdout=out, stderr=err)
    server = Gunicorn(
        process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}", stdout, stderr
    )
    try:
        ready = wait_until(lambda: requests.get(server.url + "/readyz", timeout=1).ok)
        assert ready, f"gunicorn did not become ready:\n{server.logs()}"
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def run_gunicorn_until_exit(
    env: Mapping[str, str], timeout: float = 30.0
) -> subprocess.CompletedProcess:
    """Start gunicorn with ``env`` and wait for it to exit by itself (a bad setting)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HELLO_")}
    full_env.update(env)
    return subprocess.run(GUNICORN, env=full_env, capture_output=True, text=True, timeout=timeout)


def require_tool(name: str) -> str:
    """The path of a system tool a test drives; skip without it, fail in CI.

    CI sets HELLO_REQUIRE_ALL=1, so a missing tool there is a failure, never a
    silent skip. Locally, `make tools` installs them.
    """
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (run `make tools`)"
    if os.environ.get("HELLO_REQUIRE_ALL") == "1":
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError("unreachable")  # pytest.skip raises
