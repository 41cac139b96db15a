"""Zero-downtime rollouts on a real Kubernetes: durations and requests per scenario.

Runs the e2e suite (``pytest e2e``: it needs the cluster of $KUBECONFIG, docker
and hey) and prints, from the numbers the suite records:

- the duration of a 3-replica rolling update (until ``rollout status`` succeeds,
  and until every old pod has stopped), for the update and for the undo;
- one pod's drain: from ``kubectl delete pod`` to its container stopped
  (preStop sleep 10 s + nginx/gunicorn's graceful stop), and how soon the
  replacement is Ready;
- requests served and failed during each scenario, per client;
- how long the whole e2e takes.

``HELLO_E2E_RESULTS=path`` to an existing JSON (from an earlier ``make e2e`` run
with that variable set) prints it instead of running the suite again.
Numbers only, never assertions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_suite(target: Path) -> tuple[int, float, str]:
    env = {**os.environ, "HELLO_E2E_RESULTS": str(target)}
    began = time.monotonic()
    done = subprocess.run(
        ["uv", "run", "--locked", "pytest", "e2e", "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return done.returncode, time.monotonic() - began, done.stdout[-3000:]


def main() -> None:
    existing = os.environ.get("HELLO_E2E_RESULTS")
    if existing and Path(existing).is_file():
        data = json.loads(Path(existing).read_text())
        print(f"(from {existing})")
    else:
        missing = [t for t in ("kubectl", "docker", "hey") if shutil.which(t) is None]
        if missing or not os.environ.get("KUBECONFIG"):
            print(f"skipped: needs KUBECONFIG and {', '.join(missing) or 'a cluster'}")
            return
        with tempfile.TemporaryDirectory(prefix="hello-bench-rollout-") as tmp:
            target = Path(tmp) / "results.json"
            code, took, tail = run_suite(target)
            if code != 0 or not target.is_file():
                print(f"the e2e suite failed (exit {code}) after {took:.0f} s:\n{tail}")
                return
            data = json.loads(target.read_text())
            print(f"e2e suite: passed in {took:.0f} s (pytest wall clock, with uv start)")
    for line in data["notes"]:
        print(f"  {line}")
    results = data["results"]
    print(f"\n{'scenario':<28} {'seconds':>46} {'served':>7} {'failed':>7}")
    for scenario, numbers in results.items():
        timing = ", ".join(
            f"{k.removesuffix('_seconds')}={v}"
            for k, v in numbers.items()
            if k.endswith("seconds") and k != "load_seconds"
        )
        served = numbers.get("served", "")
        failed = numbers.get("failed", "")
        print(f"{scenario:<28} {timing:>46} {served!s:>7} {failed!s:>7}")
        for client in numbers.get("clients", []):
            print(f"    {client}")
