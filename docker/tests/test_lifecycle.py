"""The container's life: it serves through nginx, stops in order, dies loudly.

Every test runs real containers of the image built from this checkout, twice:
with a plain `docker run`, and with `--read-only --cap-drop ALL --security-opt
no-new-privileges --user 10001:10001` (the ``mode`` fixture).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
from collections import Counter

import pytest
import requests
from containers import Container, docker, require

SUPERVISOR = "hello.supervisor"


def test_serves_through_nginx(run, mode, commit, version) -> None:
    """/, /healthz, /readyz, /version answer through nginx on 8000, as user 10001."""
    c: Container = run(*mode)

    index = c.get("/")
    assert index.status_code == 200
    assert index.text == "Hello, World!\n"
    # nginx answered (server_tokens off: no version), and passed X-Request-ID both ways.
    assert index.headers["Server"] == "nginx"
    tagged = c.get("/", headers={"X-Request-ID": "seminar-42"})
    assert tagged.headers["X-Request-ID"] == "seminar-42"
    assert c.get("/healthz").json() == {"status": "ok"}
    ready = c.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    info = c.get("/version").json()
    assert info["commit"] == commit
    assert info["version"] == version
    assert info["python"].startswith("3.13.")

    # One access line per request, nginx's, with the request id the app saw: the
    # image turns the app's own line off (HELLO_ACCESS_LOG=off), which would
    # only repeat it at a third of the throughput (bench/README.md).
    deadline = time.monotonic() + 5  # nginx flushes its log buffer every second
    while time.monotonic() < deadline:
        records = [r for r in c.log_records() if r.get("request_id") == "seminar-42"]
        if records:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"no nginx access line for seminar-42:\n{c.logs()[-3000:]}")
    assert [r["logger"] for r in records] == ["nginx.access"]
    assert not [r for r in c.log_records() if r.get("logger") == "hello.access"]

    # PID 1 is the supervisor; nginx and gunicorn (4 workers by default) run as 10001.
    procs = c.processes()
    by_pid = {p["pid"]: p for p in procs}
    assert "supervise.py" in by_pid[1]["cmd"]
    gunicorn = c.master("gunicorn")
    nginx = c.master("nginx")
    workers = c.children_of(gunicorn["pid"])
    assert len(workers) == 4
    assert {p["uid"] for p in procs} == {10001}, procs
    assert nginx["uid"] == 10001
    # Each worker's heartbeat file is on /dev/shm (tmpfs), not on the read-only root.
    fds = c.exec("sh", "-c", f"ls -l /proc/{workers[0]['pid']}/fd").stdout
    assert "/dev/shm/" in fds, fds


def test_metrics_only_on_their_port(run, mode, commit) -> None:
    """8080 answers /metrics (all workers aggregated) and nothing else; 8000/metrics is 404."""
    c: Container = run(*mode)
    for _ in range(5):
        c.get("/")
    metrics = requests.get(c.url("/metrics", metrics=True), timeout=10)
    assert metrics.status_code == 200
    assert re.search(
        r'^hello_http_requests_total\{method="GET",route="/",status="200"\} 5\.0$',
        metrics.text,
        re.M,
    ), metrics.text
    assert f'commit="{commit}"' in metrics.text
    assert requests.get(c.url("/", metrics=True), timeout=10).status_code == 404
    public = c.get("/metrics")
    assert public.status_code == 404
    assert "hello_http_requests_total" not in public.text


def test_start_order_and_workers_setting(run) -> None:
    """gunicorn starts first, nginx once the socket answers, /readyz 200 last; HELLO_WORKERS=2."""
    c: Container = run(env={"HELLO_WORKERS": "2"})
    steps = c.messages(SUPERVISOR)
    order = ["starting", "started gunicorn", "gunicorn answers", "started nginx", "nginx answers"]
    order.append("ready: /readyz answers 200")
    assert [s for s in steps if s in order] == order
    assert len(c.children_of(c.master("gunicorn")["pid"])) == 2


def test_stop_completes_in_flight_request(run, mode) -> None:
    """docker stop during /delay/5: /readyz 503 at once, the request gets its 200,
    nginx stops before gunicorn, the container exits 0."""
    c: Container = run(*mode)
    result: dict[str, object] = {}

    def slow() -> None:
        try:
            response = c.get("/delay/5", timeout=30)
            result["status"], result["body"] = response.status_code, response.json()
        except requests.RequestException as exc:  # recorded, asserted below
            result["error"] = repr(exc)

    client = threading.Thread(target=slow)
    client.start()
    # Wait until the request is in a worker (the in-flight gauge on the metrics port).
    c.wait_in_flight("/delay/5")

    stopper = threading.Thread(target=lambda: docker("stop", "--time", "30", c.name, timeout=60))
    stopper.start()
    # While nginx drains, gunicorn still serves: its /readyz turns 503 "draining".
    readiness = ""
    deadline = time.monotonic() + 4
    while "draining" not in readiness and time.monotonic() < deadline:
        readiness = c.unix_get("/readyz")
    assert " 503 " in readiness.splitlines()[0]
    assert '"status":"draining"' in readiness

    client.join(timeout=30)
    stopper.join(timeout=60)
    assert result.get("status") == 200, result
    assert result["body"] == {"delay": 5.0}
    assert c.wait_exit(10) == 0

    steps = c.messages(SUPERVISOR)
    wanted = [
        "draining: /readyz answers 503",
        "stopping nginx",
        "nginx stopped",
        "stopping gunicorn",
        "gunicorn stopped",
        "stopped",
    ]
    assert [s for s in steps if s in wanted] == wanted, steps
    # gunicorn's own log agrees: its SIGTERM came after nginx had gone.
    logs = c.logs()
    assert logs.index('"message": "nginx stopped"') < logs.index("Handling signal: term")


@pytest.mark.parametrize("after", [0.1, 0.5])
def test_stop_while_starting_exits_0(run, after) -> None:
    """docker stop while the servers are still starting: an orderly stop, exit 0."""
    c: Container = run(ready=False)
    time.sleep(after)
    docker("stop", "--time", "30", c.name, timeout=60)
    assert c.wait_exit(5) == 0, c.logs()
    assert c.messages(SUPERVISOR)[-1] == "stopped"


def test_stop_keeps_to_the_drain_budget(run) -> None:
    """A request longer than HELLO_DRAIN_SECONDS does not hold the stop: the supervisor
    forces both servers at the budget and exits 1 (not docker's SIGKILL, 137)."""
    c: Container = run(env={"HELLO_DRAIN_SECONDS": "6"})
    client = threading.Thread(target=lambda: _swallow(c, "/delay/25"))
    client.start()
    c.wait_in_flight("/delay/25")
    docker("stop", "--time", "30", c.name, timeout=60)
    client.join(timeout=30)
    assert c.wait_exit(5) == 1
    steps = c.messages(SUPERVISOR)
    assert "nginx overstayed the drain budget" in steps
    assert "gunicorn overstayed the drain budget" in steps
    assert steps[-1] == "stopped, but not gracefully"
    elapsed = next(
        r["elapsed_s"] for r in c.log_records() if r.get("message") == "stopped, but not gracefully"
    )
    assert elapsed < 6 + 1  # the supervisor's own measure: within the budget (+ SIGKILL wait)


def _swallow(c: Container, path: str) -> None:
    """GET ``path``, ignoring the outcome (the connection is cut on purpose)."""
    with contextlib.suppress(requests.RequestException):
        c.get(path, timeout=30)


def classify(hey_output: str) -> tuple[Counter, Counter]:
    """hey's status codes and its errors, by kind."""
    statuses: Counter = Counter()
    for code, count in re.findall(r"^\s+\[(\d{3})\]\s+(\d+) responses", hey_output, re.M):
        statuses[int(code)] += int(count)
    errors: Counter = Counter()
    for count, text in re.findall(r"^\s+\[(\d+)\]\s+(.*)$", hey_output, re.M):
        if "responses" in text:
            continue
        if "connection refused" in text:
            kind = "refused"
        elif "Client.Timeout" in text or "i/o timeout" in text:
            kind = "timeout"
        elif "EOF" in text or "connection reset" in text:
            kind = "closed"
        else:
            kind = "other: " + text
        errors[kind] += int(count)
    return statuses, errors


HEY_CONCURRENCY = 10


def test_stop_under_load_gives_no_5xx(run, mode) -> None:
    """docker stop under a steady load (hey, 10 clients x 30 req/s, keep-alive): no 5xx.

    The load goes to the container's bridge address (not the published port, whose
    docker-proxy would turn a refused connection into an EOF). What a client may see:
    - 200: served, before and during the drain;
    - "refused": a new connection after nginx closed its listener (expected: in
      Kubernetes the endpoint is gone by then; here nothing else serves);
    - "timeout": at the very end, a request dialled when the container's network
      had vanished (hey waits for its in-flight requests): at most one per client;
    - "closed" (EOF/reset on a kept-alive connection): reported; Go retries these;
    - any 5xx: a failure of the stop sequence (nginx answering 502 for want of gunicorn).
    """
    hey = require("hey")
    c: Container = run(*mode)
    load = subprocess.Popen(
        [
            hey,
            "-z",
            "30s",
            "-c",
            str(HEY_CONCURRENCY),
            "-q",
            "30",
            "-t",
            "2",
            f"http://{c.ip}:8000/",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(2)
        docker("stop", "--time", "30", c.name, timeout=60)
        load.send_signal(2)  # SIGINT: hey stops and prints its report
        output, _ = load.communicate(timeout=30)
    finally:
        if load.poll() is None:
            load.kill()
            load.communicate()
    statuses, errors = classify(output)
    print(f"\nstop under load ({' '.join(mode) or 'default'}): {dict(statuses)}, {dict(errors)}")
    assert c.wait_exit(10) == 0
    assert statuses[200] > 200, output  # the load really ran
    assert not [code for code in statuses if code >= 500], output
    assert set(statuses) == {200}, output
    assert not [kind for kind in errors if kind.startswith("other")], output
    assert errors["timeout"] <= HEY_CONCURRENCY, output


@pytest.mark.parametrize("victim", ["gunicorn", "nginx"])
def test_server_death_stops_the_container(run, mode, victim) -> None:
    """SIGKILL to gunicorn's or nginx's master: the container exits 1, promptly."""
    c: Container = run(*mode)
    pid = c.master(victim)["pid"]
    killed = c.exec("sh", "-c", f"kill -KILL {pid}")
    assert killed.returncode == 0, killed.stderr
    assert c.wait_exit(15) == 1
    assert f"{victim} exited: stopping the container" in c.messages(SUPERVISOR)


def test_orphans_are_reaped(run) -> None:
    """A process orphaned inside the container is reaped by PID 1: no zombie stays."""
    c: Container = run()
    # sh exits at once; its background sleep is re-parented to PID 1, then exits.
    assert c.exec("sh", "-c", "sleep 2 </dev/null >/dev/null 2>&1 & exit 0").returncode == 0
    assert any(p["cmd"] == "sleep 2" and p["ppid"] == 1 for p in c.processes())
    time.sleep(3)
    procs = c.processes()
    assert not [p for p in procs if p["state"] == "Z"], procs
    assert not [p for p in procs if p["cmd"] == "sleep 2"], procs
    assert c.state()["Running"]


def test_docker_healthcheck(run) -> None:
    """The image's HEALTHCHECK (python3 urllib on :8000/healthz) reports healthy."""
    c: Container = run("--health-interval", "1s", "--health-start-period", "0s")
    deadline = time.monotonic() + 20
    while (health := c.state()["Health"]["Status"]) != "healthy":
        assert health in {"starting", "healthy"}, c.state()["Health"]
        assert time.monotonic() < deadline, c.state()["Health"]
        time.sleep(0.5)
