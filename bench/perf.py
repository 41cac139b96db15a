"""Issue 8 (performance): the production image against the seminar's stack, and candidates.

Targets, all containers of the local engine reached on their bridge address (as in
bench/image.py, whose helpers this module imports), side by side in one run:

- baseline: the seminar's stack (``bench/baseline``: nginx -> unix socket -> gunicorn
  4 sync workers -> Flask with multiprocess metrics);
- ceiling: the image's nginx answering a static 200 itself;
- ours: the production image as shipped (metrics and the app's access log on);
- candidates: the same image with one thing changed (an env var, a mounted nginx.conf
  generated under /tmp, or granian instead of gunicorn in a ``hello-perf-granian``
  image built from a temporary Dockerfile under /tmp). Metrics stay on everywhere.

Per target: ``wrk -t2 -c50 -d10s`` on ``/`` (after a 1 s warm-up), ROUNDS rounds with
the targets taking turns (A B C ... A B C ...), medians of requests/s, p50 and p99, the
ratio to the baseline's median, and container memory after its last run; then one
fixed-rate run below saturation (``hey -c 10 -q 200 -z 5s``: 2,000 req/s) for latency
percentiles. Numbers only, no assertions. Docker objects: ``hello-perf-*`` images,
``hello-bench-*`` containers (removed at the end).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.image import BASELINE, REPO, Running, container, docker, memory, wait_ok

OURS = "hello-perf-ours"
BASE = "hello-perf-baseline"
GRANIAN = "hello-perf-granian"
GRANIAN_VERSION = "2.8.9"
ROUNDS = int(os.environ.get("PERF_ROUNDS", "3"))
WRK = ["-t2", "-c50", "-d10s", "--latency", "--timeout", "5s"]
HEY = ["-c", "10", "-q", "200", "-z", "5s"]  # 10 x 200 = 2,000 req/s, below saturation
LOG_OFF = ("--env", "HELLO_ACCESS_LOG=off")
NGINX_CONF = REPO / "docker/nginx.conf"
UPSTREAM = "server unix:/tmp/hello/gunicorn.sock;"
NO_CONN = 'proxy_set_header Connection "";'


def granian_cmd(*extra: str) -> tuple[str, ...]:
    """Run the app under granian on gunicorn's socket (the supervisor spawns this argv)."""
    argv = "python3 -m granian --interface wsgi --factory --uds /tmp/hello/gunicorn.sock"
    argv += " --uds-permissions 666 --no-log --workers 2 " + " ".join(extra)
    return ("--env", f"PERF_APP_CMD={argv.strip()} hello:create_app")


@dataclass
class Latency:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: str


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "secs": 1000.0}[unit]


def run_wrk(url: str, args: list[str] = WRK) -> Latency:
    out = subprocess.run(
        ["wrk", *args, url], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {
        m[0]: _ms(m[1], m[2]) for m in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    }
    problems = []
    if m := re.search(r"Socket errors: (.*)", out):
        problems.append(m.group(1).strip())
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        problems.append(f"non-2xx {m.group(1)}")
    return Latency(
        rps, pct.get("50", float("nan")), pct.get("99", float("nan")), "; ".join(problems) or "none"
    )


def run_hey(url: str) -> Latency:
    out = subprocess.run(
        ["hey", *HEY, url], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {m[0]: float(m[1]) * 1000 for m in re.findall(r"(\d+)%+ in ([\d.]+) secs", out)}
    codes = re.findall(r"\[(\d+)\]\s+(\d+) responses", out)
    bad = sum(int(n) for code, n in codes if code != "200")
    return Latency(
        rps,
        pct.get("50", float("nan")),
        pct.get("99", float("nan")),
        f"non-200 {bad}" if bad else "none",
    )


def build_images() -> None:
    """hello-perf-ours (the shipped Dockerfile), hello-perf-baseline, hello-perf-granian."""
    docker("build", "-q", "-t", OURS, str(REPO), timeout=1800)
    docker("build", "-q", "-t", BASE, "-t", BASELINE, str(REPO / "bench/baseline"), timeout=1800)
    with tempfile.TemporaryDirectory(prefix="hello-perf-") as tmp:
        ctx = Path(tmp)
        subprocess.run(
            ["uv", "run", "--no-project", "--with", "pip", "python", "-m", "pip", "download",
             f"granian=={GRANIAN_VERSION}", "--no-deps", "--only-binary=:all:",
             "--python-version", "3.13", "--platform", "manylinux_2_17_x86_64", "-d", tmp],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        wheel = next(ctx.glob("granian-*.whl")).name
        # The supervisor, with one change: PERF_APP_CMD replaces gunicorn's argv.
        supervise = (REPO / "docker/supervise.py").read_text()
        anchor = '    "hello:create_app()",\n)\n'
        assert anchor in supervise, "docker/supervise.py changed: update bench/perf.py"
        supervise = supervise.replace(
            anchor,
            anchor + 'if os.environ.get("PERF_APP_CMD"):\n'
            '    GUNICORN = tuple(os.environ["PERF_APP_CMD"].split())\n',
        )
        (ctx / "supervise.py").write_text(supervise)
        (ctx / "Dockerfile").write_text(
            f"FROM {OURS}\nUSER 0:0\nCOPY {wheel} /tmp/{wheel}\n"
            f"RUN python3 -m zipfile -e /tmp/{wheel} /opt/venv/lib/python3.13/site-packages"
            f" && rm /tmp/{wheel}\n"
            "COPY supervise.py /usr/local/lib/hello/supervise.py\nUSER 10001:10001\n"
        )
        docker("build", "-q", "-t", GRANIAN, tmp, timeout=600)


def workers(n: int) -> tuple[str, ...]:
    return ("--env", f"HELLO_WORKERS={n}")


def nginx_variant(tmp: Path, name: str, *edits: tuple[str, str]) -> tuple[str, ...]:
    """docker/nginx.conf with text replacements, mounted over the image's copy."""
    text = NGINX_CONF.read_text()
    for old, new in edits:
        assert old in text, f"docker/nginx.conf has no {old!r}: update bench/perf.py"
        text = text.replace(old, new)
    path = tmp / f"{name}.conf"
    path.write_text(text)
    path.chmod(0o644)
    return ("--volume", f"{path}:/etc/hello/nginx.conf:ro")


def targets(tmp: Path) -> list[tuple[str, str, int, tuple[str, ...], tuple[str, ...], str]]:
    """(label, image, port, docker flags, command, ready path) of every target."""
    ceiling = REPO / "bench/baseline/ceiling.conf"
    w1 = nginx_variant(
        tmp, "w1buf",
        ("worker_processes 2;", "worker_processes 1;"),
        ("json buffer=16k flush=1s;", "json buffer=64k flush=5s;"),
    )  # fmt: skip
    nobuf = nginx_variant(tmp, "nobuf", ("proxy_buffering on;", "proxy_buffering off;"))
    # granian speaks HTTP/1.1 keep-alive (gunicorn's sync workers close every connection)
    keep = nginx_variant(
        tmp, "keepalive",
        (UPSTREAM, UPSTREAM + "\n        keepalive 16;"),
        (NO_CONN, NO_CONN + "\n            proxy_http_version 1.1;"),
    )  # fmt: skip
    ceiling_cmd = ("-c", "/etc/hello/ceiling.conf", "-e", "stderr", "-g", "daemon off;")
    return [
        ("baseline (seminar stack)", BASE, 80, (), (), "/readyz"),
        ("ceiling (nginx static 200)", OURS, 8000,
         ("--entrypoint", "nginx", "--volume", f"{ceiling}:/etc/hello/ceiling.conf:ro"),
         ceiling_cmd, "/"),
        ("ours (as shipped)", OURS, 8000, (), (), "/readyz"),
        ("ours, access log off", OURS, 8000, LOG_OFF, (), "/readyz"),
        ("ours, log off, 2 workers", OURS, 8000, (*LOG_OFF, *workers(2)), (), "/readyz"),
        ("ours, log off, 3 workers", OURS, 8000, (*LOG_OFF, *workers(3)), (), "/readyz"),
        ("ours, log off, 6 workers", OURS, 8000, (*LOG_OFF, *workers(6)), (), "/readyz"),
        ("ours, log off, nginx 1 wkr+buf64k", OURS, 8000, (*LOG_OFF, *w1), (), "/readyz"),
        ("ours, log off, proxy_buffering off", OURS, 8000, (*LOG_OFF, *nobuf), (), "/readyz"),
        ("granian 2 wkr, log off", GRANIAN, 8000, (*LOG_OFF, *granian_cmd()), (), "/readyz"),
        ("granian 2 wkr, log on", GRANIAN, 8000, granian_cmd(), (), "/readyz"),
        ("granian 2 wkr, bp 8, log off", GRANIAN, 8000,
         (*LOG_OFF, *granian_cmd("--backpressure", "8")), (), "/readyz"),
        ("granian 2 wkr, log off, upstream keepalive", GRANIAN, 8000,
         (*LOG_OFF, *granian_cmd(), *keep), (), "/readyz"),
        ("granian 2 wkr, log on, upstream keepalive", GRANIAN, 8000,
         (*granian_cmd(), *keep), (), "/readyz"),
    ]  # fmt: skip


def measure(running: list[tuple[str, Running]]) -> list[tuple[str, Latency, Latency, float]]:
    runs: dict[str, list[Latency]] = {label: [] for label, _ in running}
    mem: dict[str, float] = {}
    for n in range(ROUNDS):
        order = running if n % 2 == 0 else running[::-1]  # no target always first
        for label, target in order:
            run_wrk(target.url("/"), ["-t2", "-c50", "-d1s"])  # warm-up
            runs[label].append(run_wrk(target.url("/")))
            mem[label] = memory(target.name)
    fixed = {label: run_hey(target.url("/")) for label, target in running}
    rows = []
    for label, _ in running:
        r = runs[label]
        print(f"  {label:<36} req/s per round: {', '.join(f'{x.rps:.0f}' for x in r)}", flush=True)
        median = Latency(
            statistics.median(x.rps for x in r),
            statistics.median(x.p50_ms for x in r),
            statistics.median(x.p99_ms for x in r),
            "; ".join(sorted({x.errors for x in r})),
        )
        rows.append((label, median, fixed[label], mem[label]))
    return rows


def main() -> None:
    if not all(shutil.which(tool) for tool in ("docker", "wrk", "hey", "uv")):
        print("skipped: needs docker, wrk, hey and uv")
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)", flush=True)
    if not os.environ.get("PERF_NO_BUILD"):
        build_images()
    with tempfile.TemporaryDirectory(prefix="hello-perf-") as tmp, ExitStack() as stack:
        # the containers' user (10001) reads the mounted nginx.conf variants
        os.chmod(tmp, 0o755)  # noqa: S103
        running = []
        chosen = targets(Path(tmp))
        # PERF_TARGETS="granian": only the targets whose label contains one of
        # the comma-separated patterns (the baseline, first, is always kept: the ratios are to it).
        if wanted := [w for w in os.environ.get("PERF_TARGETS", "").split(",") if w]:
            chosen = chosen[:1] + [t for t in chosen[1:] if any(w in t[0] for w in wanted)]
        for label, image, port, flags, command, ready in chosen:
            target = stack.enter_context(container(image, port, *flags, command=command))
            running.append((label, target, ready))
        for _, target, ready in running:
            wait_ok(target.url(ready))
        print(f"\nwrk {' '.join(WRK)} on /, {ROUNDS} rounds; then hey {' '.join(HEY)}", flush=True)
        rows = measure([(label, target) for label, target, _ in running])
    base = rows[0][1]
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    head = f"  {'target':<36} {'req/s':>7} {'x base':>6} {'p50':>6} {'p99':>6}"
    print(f"\n{head} {'mem MiB':>7} | {'hey p50':>7} {'p99':>6}  errors (wrk; hey)")
    for label, sat, fixed, mem in rows:
        print(
            f"  {label:<36} {sat.rps:7.0f} {sat.rps / base.rps:6.2f} {sat.p50_ms:6.2f} "
            f"{sat.p99_ms:6.2f} {mem:7.1f} | {fixed.p50_ms:7.2f} {fixed.p99_ms:6.2f}  "
            f"{sat.errors}; {fixed.errors}"
        )
    print("  (latencies in ms; 'x base' = median req/s / baseline's median req/s)")


if __name__ == "__main__":
    main()
