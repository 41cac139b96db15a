"""Fixtures of the e2e suite: the cluster of $KUBECONFIG, two images, a namespace.

The suite is cluster-agnostic: it needs kubectl (with kustomize >= v5), docker
and hey on PATH, and a cluster whose nodes can run the images the local Docker
engine builds (the local cluster of shared/k8s does; on kind the images are
loaded with `kind load docker-image`, see hello_e2e.image_loader). Without a cluster
the suite skips, or fails when HELLO_REQUIRE_ALL=1 (CI).

Everything measured is printed at the end of the run (pytest's terminal
summary), and written as JSON to $HELLO_E2E_RESULTS when set (bench/rollout.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hello_e2e import (
    KUBECTL,
    NAME,
    NOTES,
    RESULTS,
    ROOT,
    STARTED,
    SUMMARIES,
    App,
    Images,
    deploy,
    get,
    image_loader,
    kubectl,
    note,
    run,
    wait_for,
)


def require(condition: bool, message: str) -> None:
    if condition:
        return
    if os.environ.get("HELLO_REQUIRE_ALL") == "1":
        pytest.fail(f"{message} (HELLO_REQUIRE_ALL=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def cluster() -> str:
    for tool in ("docker", "hey", KUBECTL):
        require(shutil.which(tool) is not None, f"{tool} is not installed")
    version = subprocess.run(
        [KUBECTL, "version", "-o", "json", "--request-timeout=10s"],
        capture_output=True,
        text=True,
        check=False,
    )
    server = json.loads(version.stdout or "{}").get("serverVersion")
    require(
        server is not None,
        'no Kubernetes cluster answers (set KUBECONFIG; here: eval "$(../shared/k8s/up.sh)")',
    )
    assert server is not None
    release = f"{server['major']}.{server['minor'].rstrip('+')}"
    context = kubectl("config", "current-context").strip()
    note(f"cluster: Kubernetes {server['gitVersion']}, context {context}")
    return release


@pytest.fixture(scope="session")
def images(cluster: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
    """The working tree's image, and a second one whose greeting and commit differ."""
    commit = run("git", "-C", str(ROOT), "rev-parse", "HEAD").strip() or "unknown"
    short = commit[:12]
    old = f"hello:e2e-{short}"
    began = time.monotonic()
    run("docker", "build", "--build-arg", f"COMMIT={commit}", "-t", old, str(ROOT), timeout=1200)
    run_id = secrets.token_hex(3)
    new = f"hello:e2e-{short}-b{run_id}"
    new_commit = f"{short}-e2e-b{run_id}"
    new_greeting = f"Bonjour from the rolled-out image {run_id}!"
    context = tmp_path_factory.mktemp("image-b")
    # The seminar's change (a new greeting, a new commit), as a new image.
    (context / "Dockerfile").write_text(
        f'FROM {old}\nENV HELLO_MESSAGE="{new_greeting}" HELLO_COMMIT="{new_commit}"\n'
    )
    run("docker", "build", "-t", new, str(context))
    note(f"images built in {time.monotonic() - began:.1f} s: {old} and {new}")
    loader = image_loader()
    if loader:
        for image in (old, new):
            run(*loader, image, timeout=600)
        note(f"images loaded into the nodes with: {' '.join(loader)}")
    else:
        note("no image loader (not kind, HELLO_E2E_LOAD unset): nodes use the local engine")
    status, body = probe_image(old)
    assert status == 200, body
    return Images(old, new, commit, new_commit, body.strip(), new_greeting)


def probe_image(image: str) -> tuple[int, str]:
    """The old image's own greeting, from a container of it (no assumption on its text)."""
    name = f"hello-e2e-probe-{secrets.token_hex(3)}"
    run("docker", "run", "-d", "--rm", "--name", name, "-p", "127.0.0.1::8000", image)
    try:
        port = int(run("docker", "port", name, "8000/tcp").split(":")[-1])

        def greeting() -> tuple[int, str] | None:
            try:
                return get("127.0.0.1", port, "/")
            except OSError:
                return None

        return wait_for(f"{image} to answer", greeting, timeout=60)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


@pytest.fixture(scope="session")
def namespace(cluster: str) -> Iterator[str]:
    name = f"hello-e2e-{secrets.token_hex(3)}"
    kubectl("create", "namespace", name)
    yield name
    # Scenario 6 deletes it and checks; this only cleans up after a failure.
    if kubectl("get", "namespace", name, "--ignore-not-found", "-o", "name").strip():
        kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def app(namespace: str, images: Images) -> App:
    took, stderr = deploy(namespace, images.old)
    for line in stderr.splitlines():
        if line.startswith("deploy: this cluster has no"):
            note(line.removeprefix("deploy: "))
    RESULTS["first deploy"] = {"seconds": round(took, 1)}
    port = int(
        kubectl(
            "get",
            "service",
            f"hello-{NAME}",
            "-n",
            namespace,
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        )
    )
    return App(namespace, f"hello-{NAME}", find_host(port), port, images)


def find_host(port: int) -> str:
    """Where the NodePort answers: HELLO_E2E_HOST, 127.0.0.1 (the local cluster),
    or a node's address (kind: the node container's IP)."""
    candidates = [os.environ.get("HELLO_E2E_HOST", ""), "127.0.0.1"]
    for node in json.loads(kubectl("get", "nodes", "-o", "json"))["items"]:
        for address in node["status"].get("addresses", []):
            if address["type"] in ("InternalIP", "ExternalIP"):
                candidates.append(address["address"])

    def answering() -> str | None:
        for host in filter(None, candidates):
            try:
                if get(host, port, "/readyz", timeout=2)[0] == 200:
                    return host
            except OSError:
                continue
        return None

    host = wait_for(f"the NodePort {port} to answer on one of {candidates}", answering, 60)
    note(f"the Service answers on http://{host}:{port}/ (NodePort)")
    return host


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hello-e2e-") as path:
        yield Path(path)


def pytest_terminal_summary(terminalreporter) -> None:
    if not (NOTES or RESULTS or SUMMARIES):
        return
    write = terminalreporter.write_line
    terminalreporter.section("hello e2e: what happened")
    for line in NOTES:
        write(f"- {line}")
    for scenario, data in RESULTS.items():
        write(f"* {scenario}: " + ", ".join(f"{k}={v}" for k, v in data.items() if k != "clients"))
        for client in data.get("clients", []):
            write(f"    {client}")
    for summary in SUMMARIES:
        write(summary)
    write(f"whole e2e session: {time.monotonic() - STARTED:.0f} s")
    target = os.environ.get("HELLO_E2E_RESULTS")
    if target:
        RESULTS["session"] = {"seconds": round(time.monotonic() - STARTED, 1)}
        Path(target).write_text(json.dumps({"notes": NOTES, "results": RESULTS}, indent=2))
