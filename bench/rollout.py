"""Zero-downtime rollouts on a real Kubernetes: durations and requests per scenario.

Runs the e2e suite (``pytest e2e``: it needs the cluster of $KUBECONFIG, docker
and hey) and prints, from the numbers the suite records:

- the duration of a 3-replica rolling update (until ``rollout status`` succeeds,
  and until every old pod has stopped), for the update and for the undo;
- one pod's drain: from ``kubectl delete pod`` to its container stopped
  (preStop sleep 10 s + nginx/gunicorn's graceful stop), and how soon the
  replacement is Ready;
- requests served and failed during each scenario, per client;
- how long the whole e2e takes;
- a negative control: the same rolling update (``kubectl rollout restart``)
  under the same load, with the preStop sleep removed from the pod template,
  which shows how many requests the suite's clients see fail without it (so
  the suite's zeros mean something). Its namespace: ``hello-bench-<random>``.

``HELLO_E2E_RESULTS=path`` to an existing JSON (from an earlier ``make e2e`` run
with that variable set) prints it instead of running the suite again.
Numbers only, never assertions.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONTROL_LOAD_SECONDS = 45


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


def negative_control() -> None:
    """Roll 3 replicas without the preStop sleep, under the e2e suite's load."""
    sys.path.insert(0, str(REPO / "e2e"))
    from hello_e2e import Load, kubectl, run  # e2e/ is not a package

    commit = run("git", "-C", str(REPO), "rev-parse", "HEAD").strip()
    image = f"hello:e2e-{commit[:12]}"
    if not run("docker", "images", "-q", image).strip():
        print(f"negative control skipped: {image} does not exist (the e2e suite builds it)")
        return
    namespace = f"hello-bench-{secrets.token_hex(3)}"
    kubectl("create", "namespace", namespace)
    try:
        env = {**os.environ, "OVERLAY": "local", "NAMESPACE": namespace}
        env.pop("DRY_RUN", None)
        subprocess.run(
            ["bash", str(REPO / "deploy" / "deploy.sh"), "control", image],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        deployment = ["-n", namespace, "deployment/hello-control"]
        kubectl(
            "patch", *deployment, "--type=json",
            "-p", '[{"op":"remove","path":"/spec/template/spec/containers/0/lifecycle"}]',
        )  # fmt: skip
        kubectl("rollout", "status", *deployment, "--timeout=180s")
        time.sleep(15)  # the pods the patch replaced are gone
        port = int(
            kubectl(
                "get",
                "service",
                "hello-control",
                "-n",
                namespace,
                "-o",
                "jsonpath={.spec.ports[0].nodePort}",
            )
        )
        with tempfile.TemporaryDirectory(prefix="hello-bench-rollout-") as tmp:
            with Load("127.0.0.1", port, CONTROL_LOAD_SECONDS, Path(tmp)) as load:
                time.sleep(3)
                kubectl("rollout", "restart", *deployment)
                kubectl("rollout", "status", *deployment, "--timeout=180s")
            results = load.results()
        served = sum(r.served for r in results)
        failed = sum(r.failed for r in results)
        print(
            f"\nnegative control, rolling update WITHOUT preStop: {served} served, {failed} failed"
        )
        for client in results:
            print(f"    {client.line()}")
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def main() -> None:
    existing = os.environ.get("HELLO_E2E_RESULTS")
    if existing and Path(existing).is_file():
        print(f"(from {existing})")
        report(json.loads(Path(existing).read_text()))
        return
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
        print(f"e2e suite: passed in {took:.0f} s (pytest wall clock, with uv start)")
        report(json.loads(target.read_text()))
    negative_control()


def report(data: dict) -> None:
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
