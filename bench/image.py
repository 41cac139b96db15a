"""The production image: size, build times, time to ready, memory, throughput.

Numbers only, no assertions (they go in the closing note and the README):

- size of the image, and of our layers above the base image;
- build time, cold (``--no-cache``) and warm after a one-line change in the app
  (a copy of the checkout whose ``views.py`` gets one more line), and a rebuild
  with nothing changed;
- time from ``docker run`` to the first ``/readyz`` 200 (median of 3);
- container memory (``docker stats``) at idle and at the end of the load run;
- ``wrk -t2 -c50 -d10s --latency`` on ``/``, requests/s and p99 (medians of 3
  rounds, the targets taking turns), for containers from the same base:
    * ceiling: the image's nginx answering a static 200 itself
      (``bench/baseline/ceiling.conf``);
    * baseline: what the seminar shipped, nginx -> unix socket -> gunicorn 4 sync
      workers -> plain Flask with multiprocess metrics (``bench/baseline/``);
    * hello: this image, default settings (4 workers, metrics and access logs on);
    * the same with HELLO_ACCESS_LOG=off, to show what the app's log line costs;
    * the same with HELLO_METRICS=off too: the image's own cost, app features aside.

wrk runs on the host and targets each container's bridge address, not a
published port: docker's userland proxy on a published loopback port would be
the bottleneck, and Kubernetes does not have it. Docker objects: ``hello-bench-*``.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE = os.environ.get("BASE_IMAGE", "debian:trixie-slim")
IMAGE = "hello-bench-image:latest"
BASELINE = "hello-bench-baseline:latest"
WRK = ["-t2", "-c50", "-d10s", "--latency", "--timeout", "5s"]
READY_RUNS = 3
ROUNDS = 3
MiB = 1024 * 1024


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}...: {result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


def timed_build(context: Path, tag: str, *extra: str, dockerfile: str | None = None) -> float:
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    args = ["build", *extra, "--build-arg", f"COMMIT={commit or 'unknown'}"]
    args += ["--build-arg", f"VERSION={version}", "-t", tag]
    if dockerfile:
        args += ["-f", dockerfile]
    started = time.perf_counter()
    docker(*args, str(context), timeout=1800)
    return time.perf_counter() - started


def image_size(tag: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", tag))


def layer_sizes(tag: str) -> list[tuple[int, str]]:
    """(bytes, instruction) of each layer of ``tag`` that is not the base's, newest first."""
    base_rows = len(docker("history", "--quiet", BASE).splitlines())
    rows = docker(
        "history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", tag
    )
    out = []
    for line in rows.splitlines():
        size, _, created_by = line.partition("\t")
        out.append((int(size), re.sub(r"\s+", " ", created_by.replace("/bin/sh -c ", ""))))
    # The base's own history rows are the last ones.
    return out[: len(out) - base_rows]


@dataclass
class Running:
    name: str
    ip: str
    port: int

    def url(self, path: str) -> str:
        return f"http://{self.ip}:{self.port}{path}"


@contextmanager
def container(
    image: str, port: int, *flags: str, command: tuple[str, ...] = ()
) -> Iterator[Running]:
    name = f"hello-bench-{uuid.uuid4().hex[:8]}"
    try:
        docker("run", "--detach", "--name", name, *flags, image, *command)
        ip = docker(
            "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name
        )
        yield Running(name, ip, port)
    finally:
        docker("rm", "--force", "--volumes", name, check=False)


def wait_ok(url: str, timeout: float = 60) -> float:
    """Poll ``url`` every 10 ms until it answers 200; the time it took."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s")


def time_to_ready(image: str) -> list[float]:
    times = []
    for _ in range(READY_RUNS):
        name = f"hello-bench-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        try:
            docker("run", "--detach", "--name", name, image)
            ip = docker(
                "inspect",
                "--format",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                name,
            )
            wait_ok(f"http://{ip}:8000/readyz")
            times.append(time.perf_counter() - started)
        finally:
            docker("rm", "--force", "--volumes", name, check=False)
    return times


def memory(name: str) -> float:
    """The container's memory use in MiB, as `docker stats` reports it."""
    usage = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", name).split("/")[0].strip()
    number, unit = re.fullmatch(r"([\d.]+)\s*([KMG]i?B|B)", usage).groups()  # type: ignore[union-attr]
    factor = {"B": 1, "KiB": 1024, "KB": 1000, "MiB": MiB, "MB": 1e6, "GiB": 1024 * MiB, "GB": 1e9}
    return float(number) * factor[unit] / MiB


@dataclass
class Load:
    rps: float
    p99_ms: float
    errors: str


def wrk(url: str, args: list[str] = WRK) -> Load:
    output = subprocess.run(
        ["wrk", *args, url], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    p99_ms = float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")
    problems = []
    if m := re.search(r"Socket errors: (.*)", output):
        problems.append(m.group(1).strip())
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        problems.append(f"non-2xx {m.group(1)}")
    return Load(rps, p99_ms, "; ".join(problems) or "none")


def load_runs(targets: list[tuple[str, Running, str]]) -> list[tuple[str, float, Load, float]]:
    """All targets idle side by side: idle memory of each, then ROUNDS rounds of one
    wrk run per target in turn (A B C D A B C D ...), so that a busy moment of the
    machine hits every target alike; medians, and memory after each target's last run."""
    for _, target, ready_path in targets:
        wait_ok(target.url(ready_path))
    time.sleep(3)
    idle = {target.name: memory(target.name) for _, target, _ in targets}
    results: dict[str, list[Load]] = {target.name: [] for _, target, _ in targets}
    loaded: dict[str, float] = {}
    for _ in range(ROUNDS):
        for _, target, _ in targets:
            wrk(target.url("/"), ["-t2", "-c50", "-d1s"])  # warm-up: connections, workers
            results[target.name].append(wrk(target.url("/")))
            loaded[target.name] = memory(target.name)
    rows = []
    for label, target, _ in targets:
        runs = results[target.name]
        median = Load(
            statistics.median(r.rps for r in runs),
            statistics.median(r.p99_ms for r in runs),
            "; ".join(sorted({r.errors for r in runs})),
        )
        rows.append((label, idle[target.name], median, loaded[target.name]))
        print(f"  {label:<38} req/s per round: {', '.join(f'{r.rps:.0f}' for r in runs)}")
    return rows


def builds() -> dict[str, float]:
    times = {"cold (--no-cache)": timed_build(REPO, IMAGE, "--no-cache")}
    times["rebuild, nothing changed"] = timed_build(REPO, IMAGE)
    with tempfile.TemporaryDirectory(prefix="hello-bench-") as tmp:
        copy = Path(tmp) / "context"
        ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".*_cache")
        shutil.copytree(REPO, copy, ignore=ignore)
        views = copy / "src/hello/views.py"
        views.write_text(views.read_text() + f"# one-line change {uuid.uuid4().hex}\n")
        tag = "hello-bench-warm:latest"
        times["warm, one line changed in the app"] = timed_build(copy, tag)
        docker("image", "rm", "--force", tag, check=False)
    return times


def main() -> None:
    if shutil.which("docker") is None or shutil.which("wrk") is None:
        print("skipped: needs docker and wrk")
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)", flush=True)

    build_times = builds()
    docker("build", "-t", BASELINE, str(REPO / "bench/baseline"), timeout=1800)
    base_size = image_size(BASE)
    size = image_size(IMAGE)

    print("\nbuild time (s)")
    for label, seconds in build_times.items():
        print(f"  {label:<36} {seconds:7.1f}")

    print("\nimage size (MB)")
    print(f"  {'hello image':<36} {size / 1e6:7.1f}")
    print(f"  {'  base (' + BASE + ')':<36} {base_size / 1e6:7.1f}")
    print(f"  {'  our layers above the base':<36} {(size - base_size) / 1e6:7.1f}")
    for layer_bytes, created_by in layer_sizes(IMAGE):
        if layer_bytes:
            print(f"  {'    ' + created_by[:60]:<64} {layer_bytes / 1e6:7.1f}")
    print(f"  {'baseline image (for comparison)':<36} {image_size(BASELINE) / 1e6:7.1f}")

    ready = time_to_ready(IMAGE)
    print("\ntime from docker run to /readyz 200 (s)")
    print(
        f"  median {statistics.median(ready):.2f}  (runs: {', '.join(f'{t:.2f}' for t in ready)})"
    )

    ceiling_conf = REPO / "bench/baseline/ceiling.conf"
    print(f"\nwrk {' '.join(WRK)} on / (container bridge address), {ROUNDS} rounds", flush=True)
    with (
        container(
            IMAGE,
            8000,
            "--entrypoint",
            "nginx",
            "--volume",
            f"{ceiling_conf}:/etc/hello/ceiling.conf:ro",
            command=("-c", "/etc/hello/ceiling.conf", "-e", "stderr", "-g", "daemon off;"),
        ) as ceiling_target,
        container(BASELINE, 80) as baseline_target,
        container(IMAGE, 8000) as hello_target,
        # Where the difference goes (for the performance issue): the same image without
        # the app's own access log line (nginx still logs every request, as JSON).
        container(IMAGE, 8000, "--env", "HELLO_ACCESS_LOG=off") as quiet_target,
        # ... and without the metrics either: the image's own cost (nginx, socket,
        # gunicorn, supervisor) against the baseline's, app features aside.
        container(
            IMAGE, 8000, "--env", "HELLO_ACCESS_LOG=off", "--env", "HELLO_METRICS=off"
        ) as bare_target,
    ):
        rows = load_runs(
            [
                ("ceiling: nginx static 200", ceiling_target, "/"),
                ("baseline: seminar nginx+gunicorn", baseline_target, "/readyz"),
                ("hello image", hello_target, "/readyz"),
                ("hello image, HELLO_ACCESS_LOG=off", quiet_target, "/readyz"),
                ("hello image, access log+metrics off", bare_target, "/readyz"),
            ]
        )

    print("  medians:")
    print(f"  {'target':<38} {'req/s':>9} {'p99 ms':>8} {'mem idle':>9} {'mem load':>9}  errors")
    for label, idle, result, loaded in rows:
        print(
            f"  {label:<38} {result.rps:9.0f} {result.p99_ms:8.2f} "
            f"{idle:7.1f}Mi {loaded:7.1f}Mi  {result.errors}"
        )
    ceiling, baseline, hello = (row[2].rps for row in rows[:3])
    print(f"  hello / baseline: {hello / baseline:.2f}x; hello / ceiling: {hello / ceiling:.2f}x")


if __name__ == "__main__":
    main()
