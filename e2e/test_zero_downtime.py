"""Zero-downtime updates of hello on a real Kubernetes cluster (the one of $KUBECONFIG).

The scenarios run in order on one Deployment (hello-e2e, 3 replicas, the local
overlay through deploy/deploy.sh) in a namespace of their own:

1. deploy; 3 pods Ready; `/` answers through the Service;
2. roll to a new image (another greeting and commit) under load: 0 failed;
3. `kubectl rollout undo` under load: 0 failed, the old greeting is back;
4. `kubectl delete pod` under load: 0 failed, a replacement becomes Ready;
5. a bad setting makes the new pod crash: the rollout stalls at
   maxUnavailable 0 while the old pods serve, 0 failed; undo recovers;
6. the namespace is deleted and gone.

"Failed" counts every non-2xx answer, reset, EOF and timeout, for three kinds
of clients at once (see hello_e2e.Load): hey with keep-alive, hey with a new
connection per request, and a strict keep-alive client that never retries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hello_e2e import (
    RESULTS,
    SUMMARIES,
    App,
    Load,
    deploy,
    has_stopped,
    is_ready,
    kubectl,
    kubectl_json,
    note,
    pods,
    template_hash,
    wait_for,
)

ROLL_LOAD_SECONDS = 60  # covers a whole 3-pod rollout and the last old pod's drain
SHORT_LOAD_SECONDS = 40


def current_hash(app: App) -> str:
    """The pod-template-hash of the Deployment's current ReplicaSet."""
    deployment = kubectl_json("get", "deployment", app.name, "-n", app.namespace)
    revision = deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    sets = kubectl_json("get", "replicasets", "-n", app.namespace, "-l", app.selector)["items"]
    for rs in sets:
        if rs["metadata"]["annotations"].get("deployment.kubernetes.io/revision") == revision:
            return rs["metadata"]["labels"]["pod-template-hash"]
    raise AssertionError(f"no ReplicaSet of revision {revision}")


def ready_pods(app: App) -> list[dict]:
    return [p for p in pods(app.namespace, app.selector) if is_ready(p)]


def old_pods_stopped(app: App, keep: str) -> bool:
    return all(
        has_stopped(p) for p in pods(app.namespace, app.selector) if template_hash(p) != keep
    )


def assert_serves(app: App, greeting: str, commit: str, times: int = 15) -> None:
    """Every answer, on new connections (spread over the pods), is the expected one."""
    for _ in range(times):
        status, body = app.get("/")
        assert (status, body.strip()) == (200, greeting)
        status, body = app.get("/version")
        assert status == 200
        assert json.loads(body)["commit"] == commit


def record(scenario: str, load: Load, **numbers: float | str) -> None:
    results = load.results()
    RESULTS[scenario] = {
        **{k: round(v, 1) if isinstance(v, float) else v for k, v in numbers.items()},
        "served": sum(r.served for r in results),
        "failed": sum(r.failed for r in results),
        "clients": [r.line() for r in results],
    }
    for r in results:
        if r.summary and (scenario.startswith("2") or r.failed):
            SUMMARIES.append(f"--- {scenario}: {r.name} (hey's summary) ---\n{r.summary.strip()}")
    failures = [r.line() for r in results if r.failed]
    assert not failures, f"{scenario}: requests failed: {failures}"
    for r in results:
        assert r.served > 0, f"{scenario}: {r.name} served nothing"


def roll_under_load(
    app: App, workdir: Path, scenario: str, action: Callable[[], None], seconds: int
) -> Load:
    """Run ``action`` 3 s into a constant load; wait until the rollout is done and
    every old pod has stopped, all inside the load's window."""
    load_dir = workdir / scenario.split(" ")[0]
    load_dir.mkdir()
    with Load(app.host, app.port, seconds, load_dir) as load:
        time.sleep(3)
        began = time.monotonic()
        action()
        kubectl(
            "rollout", "status", f"deployment/{app.name}", "-n", app.namespace, "--timeout=240s"
        )
        rolled = time.monotonic() - began
        keep = current_hash(app)
        wait_for("the old pods to stop", lambda: old_pods_stopped(app, keep), timeout=120)
        drained = time.monotonic() - began
        covered = load.remaining()
    assert covered > 0, f"the load ended {-covered:.0f} s before the old pods had stopped"
    record(
        scenario,
        load,
        rollout_seconds=rolled,
        until_old_pods_stopped_seconds=drained,
        load_seconds=float(seconds),
    )
    return load


def test_1_deploy_three_ready_pods_answer_through_the_service(app: App) -> None:
    ready = wait_for("3 Ready pods", lambda: len(ready_pods(app)) == 3 or None, timeout=120)
    assert ready
    listed = pods(app.namespace, app.selector)
    assert len(listed) == 3
    for pod in listed:
        assert pod["spec"]["containers"][0]["image"] == app.images.old
        assert pod["spec"]["securityContext"]["runAsUser"] == 10001
    assert_serves(app, app.images.old_greeting, app.images.old_commit)
    # The metrics port is not behind the Service: /metrics through it is nginx's 404.
    assert app.get("/metrics")[0] == 404
    # The PodDisruptionBudget exists, whatever API version the cluster took.
    pdb = kubectl_json("get", "poddisruptionbudget", app.name, "-n", app.namespace)
    assert pdb["spec"]["maxUnavailable"] == 1
    note(f"PodDisruptionBudget served as {pdb['apiVersion']}")
    wait_for(
        "the PDB to allow 1 disruption",
        lambda: (
            kubectl_json("get", "pdb", app.name, "-n", app.namespace)
            .get("status", {})
            .get("disruptionsAllowed")
            == 1
        ),
        timeout=30,
    )


def test_2_rolling_update_to_a_new_image_loses_no_request(app: App, workdir: Path) -> None:
    assert app.images.new_greeting != app.images.old_greeting

    def update() -> None:
        # What a student runs after changing the greeting: make deploy NAME=...
        deploy(app.namespace, app.images.new)

    load = roll_under_load(app, workdir, "2 rolling update", update, ROLL_LOAD_SECONDS)
    assert_serves(app, app.images.new_greeting, app.images.new_commit)
    # The clients saw the old greeting first, then the new one.
    assert load.greetings_in_order() == [app.images.old_greeting, app.images.new_greeting]
    images = {p["spec"]["containers"][0]["image"] for p in ready_pods(app)}
    assert images == {app.images.new}


def test_3_rollout_undo_loses_no_request(app: App, workdir: Path) -> None:
    assert_serves(app, app.images.new_greeting, app.images.new_commit, times=3)

    def undo() -> None:
        kubectl("rollout", "undo", f"deployment/{app.name}", "-n", app.namespace)

    load = roll_under_load(app, workdir, "3 rollout undo", undo, ROLL_LOAD_SECONDS)
    assert_serves(app, app.images.old_greeting, app.images.old_commit)
    assert load.greetings_in_order() == [app.images.new_greeting, app.images.old_greeting]


def test_4_deleting_a_pod_loses_no_request(app: App, workdir: Path) -> None:
    victim = ready_pods(app)[0]["metadata"]["name"]
    load_dir = workdir / "4"
    load_dir.mkdir()

    def stopped_or_gone() -> bool:
        found = [p for p in pods(app.namespace, app.selector) if p["metadata"]["name"] == victim]
        return not found or has_stopped(found[0])

    def replaced() -> bool:
        ready = [p for p in ready_pods(app) if p["metadata"]["name"] != victim]
        return len(ready) == 3

    with Load(app.host, app.port, SHORT_LOAD_SECONDS, load_dir) as load:
        time.sleep(3)
        began = time.monotonic()
        kubectl("delete", "pod", victim, "-n", app.namespace, "--wait=false")
        wait_for("a replacement pod to be Ready", replaced, timeout=90)
        replaced_after = time.monotonic() - began
        wait_for(f"{victim} to stop", stopped_or_gone, timeout=90, interval=0.25)
        drain = time.monotonic() - began
        covered = load.remaining()
    assert covered > 0, f"the load ended {-covered:.0f} s before {victim} had stopped"
    record(
        "4 delete one pod",
        load,
        replacement_ready_seconds=replaced_after,
        pod_drain_seconds=drain,
        load_seconds=float(SHORT_LOAD_SECONDS),
    )
    assert_serves(app, app.images.old_greeting, app.images.old_commit, times=3)


def test_5_a_crashing_new_pod_stalls_the_rollout_and_undo_recovers(app: App, workdir: Path) -> None:
    good = current_hash(app)
    load_dir = workdir / "5"
    load_dir.mkdir()

    def crashing_new_pod() -> dict | None:
        for pod in pods(app.namespace, app.selector):
            if template_hash(pod) == good:
                continue
            status = (pod.get("status", {}).get("containerStatuses") or [{}])[0]
            if status.get("restartCount", 0) >= 1 and not is_ready(pod):
                return pod
        return None

    with Load(app.host, app.port, SHORT_LOAD_SECONDS + 20, load_dir) as load:
        time.sleep(3)
        began = time.monotonic()
        # A setting the service refuses at start (ConfigError): the container exits.
        kubectl("set", "env", f"deployment/{app.name}", "-n", app.namespace, "HELLO_LOG_LEVEL=LOUD")
        wait_for("the new pod to crash and restart", crashing_new_pod, timeout=60)
        # The rollout is stuck: `rollout status` does not succeed...
        stuck = kubectl(
            "rollout",
            "status",
            f"deployment/{app.name}",
            "-n",
            app.namespace,
            "--timeout=5s",
            check=False,
            timeout=60,
        )
        assert "successfully rolled out" not in stuck
        # ... and it stays stuck: for 15 s, all 3 old pods stay Ready and available
        # (maxUnavailable 0) and no second new pod is created (maxSurge 1).
        hold_until = time.monotonic() + 15
        while time.monotonic() < hold_until:
            old_ready = [p for p in ready_pods(app) if template_hash(p) == good]
            assert len(old_ready) == 3
            status = kubectl_json("get", "deployment", app.name, "-n", app.namespace)["status"]
            assert status.get("availableReplicas") == 3
            assert status.get("updatedReplicas") == 1
            assert not [p for p in ready_pods(app) if template_hash(p) != good]
            time.sleep(1)
        stalled = time.monotonic() - began
        kubectl("rollout", "undo", f"deployment/{app.name}", "-n", app.namespace)
        kubectl(
            "rollout", "status", f"deployment/{app.name}", "-n", app.namespace, "--timeout=120s"
        )
        wait_for("the crashing pod to go", lambda: old_pods_stopped(app, good), timeout=90)
        recovered = time.monotonic() - began
        covered = load.remaining()
    assert covered > 0, f"the load ended {-covered:.0f} s before the undo had finished"
    assert current_hash(app) == good
    record(
        "5 stalled rollout + undo",
        load,
        stalled_observed_seconds=stalled,
        recovered_seconds=recovered,
        load_seconds=float(SHORT_LOAD_SECONDS + 20),
    )
    env = kubectl_json("get", "deployment", app.name, "-n", app.namespace)["spec"]["template"][
        "spec"
    ]["containers"][0].get("env", [])
    assert "HELLO_LOG_LEVEL" not in {v["name"] for v in env}
    assert_serves(app, app.images.old_greeting, app.images.old_commit, times=3)


def test_6_tear_down(app: App) -> None:
    began = time.monotonic()
    kubectl("delete", "namespace", app.namespace, "--timeout=180s", timeout=240)
    gone = kubectl("get", "namespace", app.namespace, "--ignore-not-found", "-o", "name")
    assert gone.strip() == ""
    RESULTS["6 tear down"] = {"seconds": round(time.monotonic() - began, 1)}
    # Nothing answers on the freed NodePort any more.
    with pytest.raises(ConnectionError):
        app.get("/")
