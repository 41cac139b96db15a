"""Helpers and fixtures of the container suite: the image (built once per session) and
containers. (A module with its own name, not conftest, so that `from containers import`
cannot pick up tests/conftest.py when both suites run in one session.)

Everything here drives the real Docker engine: `docker build` of the repository's
Dockerfile, `docker run` of the image, HTTP to the published loopback ports or to
the container's own bridge address. Docker objects are named ``hello-img-*``;
every container is removed (with its anonymous /tmp volume) after its test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("HELLO_TEST_IMAGE_TAG", "hello:test-image")
PREFIX = "hello-img-"
# The hardened run of the issue: read-only root, no capability, no privilege
# gain, the image's fixed UID/GID given explicitly (as Kubernetes' runAsUser would).
HARDENED = [
    "--read-only",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--user",
    "10001:10001",
]
MODES = {"default": [], "hardened": HARDENED}

# Lists the container's processes from /proc (the image has no ps): pid, ppid,
# state (Z = zombie), real uid, command line.
PS = r"""
import json, os
out = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        uid = next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("Uid:"))
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode().strip()
    except OSError:
        continue
    out.append({"pid": int(pid), "ppid": int(stat[1]), "state": stat[0], "uid": int(uid),
                "cmd": cmd})
print(json.dumps(out))
"""

# GET a path on gunicorn's unix socket, from inside the container (behind nginx).
UNIX_GET = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect("/tmp/hello/gunicorn.sock")
s.sendall(f"GET {sys.argv[1]} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
data = b""
while chunk := s.recv(4096):
    data += chunk
print(data.decode())
"""


def require(tool: str) -> str:
    """The tool's path; skip without it, or fail when HELLO_REQUIRE_ALL=1 (CI)."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (make tools installs the test tools)"
        if os.environ.get("HELLO_REQUIRE_ALL") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


@pytest.fixture(scope="session")
def engine() -> None:
    require("docker")
    info = docker("info", "--format", "{{.ServerVersion}}", check=False)
    if info.returncode != 0:
        message = f"the Docker engine does not answer: {info.stderr.strip()}"
        if os.environ.get("HELLO_REQUIRE_ALL") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def commit() -> str:
    """The COMMIT build arg: this checkout's commit, like `make image`."""
    git = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return git.stdout.strip() if git.returncode == 0 else "0" * 40


@pytest.fixture(scope="session")
def version() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def build(context: Path, tag: str, commit: str, version: str) -> str:
    """`docker build` the context; return the image id. Fails with the build's output."""
    result = subprocess.run(
        [
            "docker",
            "build",
            "--build-arg",
            f"COMMIT={commit}",
            "--build-arg",
            f"VERSION={version}",
            "-t",
            tag,
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"docker build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return docker("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()


@pytest.fixture(scope="session")
def image(engine: None, commit: str, version: str) -> str:
    """The image of this checkout, built once per session (the layer cache makes reruns fast)."""
    build(REPO, IMAGE, commit, version)
    return IMAGE


@dataclass
class Container:
    name: str
    port: int = 0
    metrics_port: int = 0
    ip: str = ""

    def url(self, path: str, *, metrics: bool = False) -> str:
        return f"http://127.0.0.1:{self.metrics_port if metrics else self.port}{path}"

    def get(self, path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.get(self.url(path), **kwargs)  # type: ignore[arg-type]  # noqa: S113

    def logs(self) -> str:
        result = docker("logs", self.name, check=False)
        return result.stdout + result.stderr

    def log_records(self) -> list[dict]:
        """The JSON lines of stdout (supervisor, app and nginx); other lines skipped."""
        records = []
        for line in docker("logs", self.name, check=False).stdout.splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return records

    def state(self) -> dict:
        return json.loads(docker("inspect", "--format", "{{json .State}}", self.name).stdout)

    def exec(self, *cmd: str, timeout: float = 20) -> subprocess.CompletedProcess:
        return docker("exec", self.name, *cmd, timeout=timeout, check=False)

    def processes(self) -> list[dict]:
        result = self.exec("python3", "-c", PS)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def unix_get(self, path: str) -> str:
        """GET ``path`` straight from gunicorn's socket (bypassing nginx)."""
        return self.exec("python3", "-c", UNIX_GET, path, timeout=10).stdout

    def children_of(self, pid: int) -> list[dict]:
        return [p for p in self.processes() if p["ppid"] == pid]

    def master(self, name: str) -> dict:
        """The gunicorn or nginx master: the child of PID 1 whose command names it."""
        word = "nginx: master" if name == "nginx" else "gunicorn"
        found = [p for p in self.children_of(1) if word in p["cmd"]]
        assert len(found) == 1, f"{name} master not found among {self.children_of(1)}"
        return found[0]

    def wait_exit(self, timeout: float) -> int:
        """Wait (bounded) for the container to exit; its exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if not state["Running"]:
                return int(state["ExitCode"])
            time.sleep(0.1)
        pytest.fail(f"{self.name} still running after {timeout} s:\n{self.logs()[-3000:]}")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.get("/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if not self.state()["Running"]:
                pytest.fail(f"{self.name} exited before being ready:\n{self.logs()[-3000:]}")
            time.sleep(0.1)
        pytest.fail(f"{self.name} not ready after {timeout} s:\n{self.logs()[-3000:]}")

    def wait_in_flight(self, what: str, timeout: float = 10) -> None:
        """Wait (bounded) until a request is in a worker: the in-flight gauge on 8080."""
        deadline = time.monotonic() + timeout
        while (
            "hello_http_requests_in_flight 1.0"
            not in requests.get(self.url("/metrics", metrics=True), timeout=5).text
        ):
            assert time.monotonic() < deadline, f"the {what} request never reached gunicorn"
            time.sleep(0.05)

    def messages(self, logger: str = "hello.supervisor") -> list[str]:
        return [r["message"] for r in self.log_records() if r.get("logger") == logger]


def host_port(name: str, port: int) -> int:
    mapping = docker("port", name, f"{port}/tcp").stdout.split()[0]
    return int(mapping.rsplit(":", 1)[1])


@pytest.fixture
def run(image: str) -> Iterator[Callable[..., Container]]:
    """Start containers of the image (ports published on free loopback ports); remove them after.

    ``run(*docker_run_flags, env={...}, ready=True)``; ``image=`` runs another image.
    """
    names: list[str] = []

    def start(
        *flags: str, env: dict[str, str] | None = None, ready: bool = True, image_tag: str = image
    ) -> Container:
        name = f"{PREFIX}{uuid.uuid4().hex[:10]}"
        names.append(name)
        env_flags = [f"--env={k}={v}" for k, v in (env or {}).items()]
        docker(
            "run",
            "--detach",
            "--name",
            name,
            "--publish",
            "127.0.0.1::8000",
            "--publish",
            "127.0.0.1::8080",
            *env_flags,
            *flags,
            image_tag,
        )
        container = Container(name, host_port(name, 8000), host_port(name, 8080))
        container.ip = docker(
            "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name
        ).stdout.strip()
        if ready:
            container.wait_ready()
        return container

    yield start
    for name in names:
        docker("rm", "--force", "--volumes", name, check=False)


@pytest.fixture(params=sorted(MODES))
def mode(request: pytest.FixtureRequest) -> list[str]:
    """Each lifecycle test runs twice: plain `docker run`, and the hardened flags."""
    return MODES[request.param]
