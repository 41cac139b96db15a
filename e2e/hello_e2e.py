"""What the e2e suite drives: kubectl, docker, hey and a strict keep-alive client.

Nothing here knows which cluster it talks to: kubectl uses $KUBECONFIG, images
are built by the local Docker engine and, on kind, loaded into its nodes.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KUBECTL = os.environ.get("KUBECTL", "kubectl")


def run(*args: str, check: bool = True, timeout: float = 600, **kwargs) -> str:
    done = subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def kubectl(*args: str, check: bool = True, timeout: float = 300) -> str:
    return run(KUBECTL, *args, check=check, timeout=timeout)


def kubectl_json(*args: str) -> dict:
    return json.loads(kubectl(*args, "-o", "json"))


def wait_for(what: str, check, timeout: float, interval: float = 0.5):
    """Call ``check`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


# --- images ------------------------------------------------------------------


def image_loader() -> list[str] | None:
    """The command that puts a local image into the cluster's nodes, or None.

    HELLO_E2E_LOAD (e.g. "kind load docker-image --name hello-e2e") wins; a
    kubectl context named kind-NAME with kind on PATH means kind; otherwise the
    nodes are assumed to run the local Docker engine's images (the local 1.20
    cluster of shared/k8s, minikube with its docker-env, Docker Desktop).
    """
    explicit = os.environ.get("HELLO_E2E_LOAD")
    if explicit:
        return explicit.split()
    context = kubectl("config", "current-context", check=False).strip()
    if context.startswith("kind-") and shutil.which("kind"):
        return ["kind", "load", "docker-image", "--name", context.removeprefix("kind-")]
    return None


# --- pods ----------------------------------------------------------------------


def pods(namespace: str, selector: str) -> list[dict]:
    return kubectl_json("get", "pods", "-n", namespace, "-l", selector)["items"]


def is_ready(pod: dict) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def has_stopped(pod: dict) -> bool:
    """No container of the pod runs any more (the pod may still be listed).

    A terminated container shows as `terminated`; kubelet 1.20 (dockershim) may
    instead report a deleted pod's stopped container as `waiting`
    (ContainerCreating) until it removes the pod: not running either way.
    """
    statuses = pod.get("status", {}).get("containerStatuses", [])
    if not statuses:
        return bool(pod["metadata"].get("deletionTimestamp"))
    if all("terminated" in s.get("state", {}) for s in statuses):
        return True
    return bool(pod["metadata"].get("deletionTimestamp")) and not any(
        "running" in s.get("state", {}) for s in statuses
    )


def template_hash(pod: dict) -> str:
    return pod["metadata"]["labels"].get("pod-template-hash", "")


# --- load ------------------------------------------------------------------------


@dataclass
class ClientResult:
    name: str
    served: int = 0
    failed: int = 0
    errors: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    bodies: Counter = field(default_factory=Counter)
    connections: int = 0
    summary: str = ""

    def line(self) -> str:
        extra = f", {self.connections} connections" if self.connections else ""
        errors = f"; errors: {dict(self.errors)}" if self.errors else ""
        return f"{self.name}: {self.served} served, {self.failed} failed{extra}{errors}"


def parse_hey(name: str, output: str) -> ClientResult:
    """hey's summary: every non-2xx status and every error line counts as failed."""
    result = ClientResult(name, summary=output)
    section = None
    for line in output.splitlines():
        if line.startswith("Status code distribution:"):
            section = "status"
            continue
        if line.startswith("Error distribution:"):
            section = "error"
            continue
        match = re.match(r"\s+\[(\d+)\]\s+(\d+) responses", line)
        if section == "status" and match:
            code, count = int(match.group(1)), int(match.group(2))
            result.statuses[code] += count
            if 200 <= code < 300:
                result.served += count
            else:
                result.failed += count
            continue
        match = re.match(r"\s+\[(\d+)\]\s+(.*)", line)
        if section == "error" and match:
            result.failed += int(match.group(1))
            result.errors[match.group(2)[:200]] += int(match.group(1))
    if "Summary:" not in output:
        result.failed += 1
        result.errors["hey printed no summary"] += 1
    return result


class StrictKeepAlive(threading.Thread):
    """A keep-alive client that never retries: http.client on one connection.

    Unlike Go's client (hey), which silently resends an idempotent request when
    a reused connection turns out closed, any reset, EOF or timeout here is a
    failed request. It reconnects only when the server said `Connection: close`
    (or after a failure). It also records which greeting each response carried.
    """

    def __init__(self, name: str, host: str, port: int, rate: float, duration: float) -> None:
        super().__init__(name=name, daemon=True)
        self.host, self.port, self.rate, self.duration = host, port, rate, duration
        self.result = ClientResult(name)
        self.timeline: list[tuple[float, str]] = []

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        start = time.monotonic()
        tick = start
        while (now := time.monotonic()) < start + self.duration:
            if tick > now:
                time.sleep(tick - now)
            tick += 1 / self.rate
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                    conn.auto_open = 0  # never reconnect behind our back
                    conn.connect()
                    self.result.connections += 1
                conn.request("GET", "/")
                response = conn.getresponse()
                body = response.read().decode(errors="replace").strip()
                self.result.statuses[response.status] += 1
                if 200 <= response.status < 300:
                    self.result.served += 1
                    self.result.bodies[body] += 1
                    self.timeline.append((time.monotonic() - start, body))
                else:
                    self.result.failed += 1
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                self.result.failed += 1
                self.result.errors[f"{type(exc).__name__}: {exc}"[:200]] += 1
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()


class Load:
    """Constant-rate load through the Service from three clients at once.

    - hey, keep-alive (Go's client reuses connections), ``-c 4 -q 10``: 40 req/s;
    - hey, ``-disable-keepalive`` (one new connection per request), 40 req/s;
    - two StrictKeepAlive connections, 5 req/s each (no retries at all).
    Well below saturation on 2 cores, so probes keep answering.
    """

    def __init__(self, host: str, port: int, duration: int, workdir: Path) -> None:
        self.host, self.port, self.duration = host, port, duration
        self.workdir = workdir
        self.url = f"http://{host}:{port}/"
        self.procs: list[tuple[str, subprocess.Popen, Path]] = []
        self.strict = [
            StrictKeepAlive(f"strict keep-alive #{i}", host, port, 5, duration) for i in (1, 2)
        ]
        self.started = 0.0

    def __enter__(self) -> Load:
        hey = shutil.which("hey") or "hey"
        base = [hey, "-z", f"{self.duration}s", "-c", "4", "-q", "10", "-t", "10"]
        for name, extra in (("hey keep-alive", []), ("hey no keep-alive", ["-disable-keepalive"])):
            out = self.workdir / f"{name.replace(' ', '-')}.txt"
            with out.open("w") as handle:
                proc = subprocess.Popen(
                    [*base, *extra, self.url], stdout=handle, stderr=subprocess.STDOUT
                )
            self.procs.append((name, proc, out))
        for client in self.strict:
            client.start()
        self.started = time.monotonic()
        return self

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return self.duration - self.elapsed()

    def __exit__(self, *exc: object) -> None:
        for _, proc, _ in self.procs:
            try:
                proc.wait(timeout=self.duration + 60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for client in self.strict:
            client.join(timeout=self.duration + 60)

    def results(self) -> list[ClientResult]:
        out = [parse_hey(name, path.read_text()) for name, _, path in self.procs]
        return [*out, *(client.result for client in self.strict)]

    def greetings_in_order(self) -> list[str]:
        """The distinct greetings the strict clients saw, in order of first sight."""
        seen: dict[str, float] = {}
        for client in self.strict:
            for at, body in client.timeline:
                seen.setdefault(body, at)
                seen[body] = min(seen[body], at)
        return sorted(seen, key=seen.__getitem__)


def get(host: str, port: int, path: str, timeout: float = 5) -> tuple[int, str]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


# --- the suite's shared state and its deployment ------------------------------------

NAME = "e2e"  # deploy.sh NAME: the objects are hello-e2e
NOTES: list[str] = []
RESULTS: dict[str, dict] = {}
SUMMARIES: list[str] = []
STARTED = time.monotonic()


def note(line: str) -> None:
    """A line for the final report (adaptations, skips, numbers): never silent."""
    NOTES.append(line)


@dataclass
class Images:
    old: str
    new: str
    old_commit: str
    new_commit: str
    old_greeting: str
    new_greeting: str


@dataclass
class App:
    namespace: str
    name: str
    host: str
    port: int
    images: Images

    @property
    def selector(self) -> str:
        return f"app.kubernetes.io/instance={NAME}"

    def get(self, path: str) -> tuple[int, str]:
        return get(self.host, self.port, path)


def deploy(namespace: str, image: str) -> tuple[float, str]:
    """`make deploy`'s script, on the local overlay: apply, wait for the rollout."""
    env = {**os.environ, "OVERLAY": "local", "NAMESPACE": namespace, "TIMEOUT": "240s"}
    env.pop("DRY_RUN", None)
    env.pop("REGISTRY", None)
    began = time.monotonic()
    done = subprocess.run(
        ["bash", str(ROOT / "deploy" / "deploy.sh"), NAME, image],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    took = time.monotonic() - began
    assert done.returncode == 0, f"deploy.sh failed:\n{done.stdout}\n{done.stderr}"
    return took, done.stderr
