"""What the metrics cost: throughput with them on and off, /metrics scrape time, and how
the multiprocess files (and the scrape time) grow as gunicorn replaces workers.

Everything runs the real gunicorn with hello's configuration, 4 sync workers, on
loopback. Numbers only, no assertions: they go in the README and the closing note.

- Throughput: two servers side by side (HELLO_METRICS=on and off), `wrk -t2 -c50 -d10s`
  on GET /, alternated A B A B A B after a warm-up; medians, the median of the pairs'
  ratios, and the server's CPU time per request (steadier than req/s on a shared
  machine). Twice: with the access log on (as in production) and off (the metrics'
  cost alone).
- Scrape: GET /metrics on the metrics port (aggregation of every worker's files).
- Churn: gunicorn started with GUNICORN_CMD_ARGS="--max-requests 1", so every request
  ends its worker and the master starts a new one; after 100 and 1,000 restarts we
  count the files in PROMETHEUS_MULTIPROC_DIR and time the scrape again.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

WORKERS = 4
ROUNDS = 3  # A B A B A B: the machine is shared, pairs smooth out its noise
WRK = ["-t2", "-c50", "-d10s", "--latency"]
SCRAPES = 50
CHURN_STEPS = (100, 1000)
CHURN_CONCURRENCY = 4  # one request per worker at a time
CHURN_BUDGET_S = 900  # stop churning past this, whatever the count


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    metrics_url: str
    multiproc_dir: Path
    stderr: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, timeout: float = 30) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


@contextmanager
def gunicorn(env: Mapping[str, str]) -> Iterator[Server]:
    """hello under the real gunicorn on free loopback ports, until the block ends."""
    workdir = Path(tempfile.mkdtemp(prefix="hello-bench-metrics-"))
    port, metrics_port = _free_port(), _free_port()
    multiproc = workdir / "metrics"
    multiproc.mkdir()
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HELLO_", "GUNICORN_"))},
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "HELLO_BIND": f"127.0.0.1:{port}",
        "HELLO_METRICS_BIND": f"127.0.0.1:{metrics_port}",
        "HELLO_WORKERS": str(WORKERS),
        "HELLO_ACCESS_LOG": "off",
        **env,
    }
    stderr = workdir / "gunicorn.err"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:hello.gunicorn_conf",
             "hello:create_app()"],
            env=full_env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    server = Server(
        process,
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{metrics_port}",
        multiproc,
        stderr,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(server.url + "/readyz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("gunicorn did not start:\n" + stderr.read_text()) from None
                time.sleep(0.1)
        # Every worker up (each writes its gauge files when it loads the app).
        while len(list(multiproc.glob("gauge_livesum_*.db"))) < WORKERS:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def cpu_seconds(master: int) -> float:
    """CPU time (user + system) used so far by gunicorn's master and its live workers."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we read
            continue
        if int(stat.parent.name) == master or int(fields[1]) == master:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def wrk(server: Server, args: list[str]) -> tuple[float, float, float]:
    """Requests/s, p99 latency (ms) and server CPU per request (µs) of one wrk run.

    CPU per request barely depends on what else runs on the machine, unlike req/s.
    """
    cpu_before = cpu_seconds(server.process.pid)
    out = subprocess.run(
        ["wrk", *args, server.url + "/"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    cpu = cpu_seconds(server.process.pid) - cpu_before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    p99_ms = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    done = int(re.search(r"(\d+) requests in", out).group(1))
    return rps, p99_ms, cpu / done * 1e6


def scrape_times(server: Server, count: int) -> tuple[float, float, int]:
    """Median and p95 of ``count`` scrapes of /metrics (ms), and the size of one (bytes)."""
    times, size = [], 0
    for _ in range(count):
        start = time.perf_counter()
        size = len(_get(server.metrics_url + "/metrics"))
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], size


def requests_to_index(server: Server) -> float:
    """hello_http_requests_total of GET / answered 200, as the metrics port sums it."""
    series = 'hello_http_requests_total{method="GET",route="/",status="200"} '
    text = _get(server.metrics_url + "/metrics").decode()
    return sum(float(line[len(series) :]) for line in text.splitlines() if line.startswith(series))


def throughput(access_log: str) -> None:
    print(
        f"throughput: GET / on gunicorn, {WORKERS} sync workers, access log {access_log}, "
        f"wrk {' '.join(WRK)}, A B alternated x{ROUNDS}, medians",
        flush=True,
    )
    with (
        gunicorn({"HELLO_METRICS": "on", "HELLO_ACCESS_LOG": access_log}) as on,
        gunicorn({"HELLO_METRICS": "off", "HELLO_ACCESS_LOG": access_log}) as off,
    ):
        servers = {"metrics on": on, "metrics off": off}
        for server in servers.values():
            wrk(server, ["-t2", "-c50", "-d2s", "--latency"])  # warm-up
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in servers}
        for _ in range(ROUNDS):
            for name, server in servers.items():
                runs[name].append(wrk(server, WRK))
        print(f"  {'':12} {'req/s (runs)':>44} {'median':>7} {'p99 ms':>7} {'CPU µs/req':>10}")
        medians, cpu = {}, {}
        for name, results in runs.items():
            rps = [r for r, _, _ in results]
            medians[name] = statistics.median(rps)
            p99 = statistics.median(p for _, p, _ in results)
            cpu[name] = statistics.median(c for _, _, c in results)
            listed = " ".join(f"{r:7.0f}" for r in rps)
            print(f"  {name:12} {listed:>44} {medians[name]:7.0f} {p99:7.1f} {cpu[name]:10.0f}")
        ratio = medians["metrics on"] / medians["metrics off"]
        pairs = [
            on_run[0] / off_run[0]
            for on_run, off_run in zip(runs["metrics on"], runs["metrics off"], strict=True)
        ]
        paired = statistics.median(pairs)
        print(
            f"  ratio on/off of the medians: {ratio:.3f}; median of the {ROUNDS} pairs' ratios: "
            f"{paired:.3f} (metrics cost {100 * (1 - paired):.1f}% of throughput)"
        )
        extra = cpu["metrics on"] - cpu["metrics off"]
        print(
            f"  server CPU per request: +{extra:.0f} µs with metrics "
            f"(+{100 * extra / cpu['metrics off']:.1f}%), medians of the runs"
        )

        median, p95, size = scrape_times(on, SCRAPES)
        files = len(list(on.multiproc_dir.glob("*.db")))
        print(
            f"scrape /metrics after load ({WORKERS} workers, {files} files, {size} bytes): "
            f"median {median:.2f} ms, p95 {p95:.2f} ms over {SCRAPES} scrapes",
            flush=True,
        )


def churn() -> None:
    print(
        f"churn: GUNICORN_CMD_ARGS='--max-requests 1' ({WORKERS} workers, each ends after one "
        f"request), {CHURN_CONCURRENCY} requests at a time",
        flush=True,
    )
    print(f"  {'restarts':>8} {'files':>6} {'scrape median ms':>17} {'p95 ms':>7} {'bytes':>7}")
    with gunicorn({"GUNICORN_CMD_ARGS": "--max-requests 1"}) as server:

        def restarts() -> int:
            text = server.stderr.read_text(errors="replace")
            return text.count("Booting worker") - WORKERS

        def show(count: int) -> None:
            files = len(list(server.multiproc_dir.glob("*.db")))
            median, p95, size = scrape_times(server, 20)
            print(f"  {count:8d} {files:6d} {median:17.2f} {p95:7.2f} {size:7d}", flush=True)

        show(0)
        sent = 0
        started = time.monotonic()
        with ThreadPoolExecutor(CHURN_CONCURRENCY) as pool:
            for step in CHURN_STEPS:
                while restarts() < step and time.monotonic() - started < CHURN_BUDGET_S:
                    batch = list(pool.map(lambda _: _get(server.url + "/"), range(8)))
                    sent += len(batch)
                show(restarts())
        # Wait for the last workers to be replaced, then check nothing was lost.
        time.sleep(2)
        total = requests_to_index(server)
        verdict = "nothing lost" if total == sent else "MISMATCH"
        print(
            f"  {sent} requests to / sent in {time.monotonic() - started:.0f} s; the counter "
            f"of GET / says {total:.0f} across {restarts()} restarts: {verdict}"
        )


def main() -> None:
    if shutil.which("wrk") is None:
        print("wrk is not installed (make tools): skipped")
        return
    throughput("on")  # as in production: the JSON access log of every request
    throughput("off")  # only the metrics differ: their cost, isolated
    churn()


if __name__ == "__main__":
    main()
