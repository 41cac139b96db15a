"""Policy tests over the rendered Kubernetes manifests (deploy/).

Every overlay, every opt-in component and deploy/deploy.sh's per-student render
are produced by the real ``kubectl kustomize``; every object is validated
strictly (unknown fields fail) and offline against the newest Kubernetes schema
that kubernetes-validate ships; then each setting the zero-downtime rollout
relies on is checked, with its reason. Cross-file contracts are read from their
source of truth: the drain budget from the image (Dockerfile / docker/supervise.py),
nginx's keepalive_time from docker/nginx.conf, the worker range and the longest
request from hello.config. These tests never contact a cluster: e2e/ does.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from servers import require_tool

from hello.config import Settings, load_settings, worker_count

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DEPLOY_SH = DEPLOY / "deploy.sh"
COMPONENTS = sorted(p.name for p in (DEPLOY / "components").iterdir() if p.is_dir())
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if p.is_dir())
# The newest schema kubernetes-validate ships (a "current Kubernetes version").
K8S_VERSION = kubernetes_validate.utils.latest_version()
# Kinds that come from CRDs: no schema in kubernetes-validate; checked by hand below.
CRD_KINDS = {("monitoring.coreos.com/v1", "PodMonitor")}
DEPLOY_ENV = {"REGISTRY", "OVERLAY", "NAMESPACE", "DRY_RUN", "KUBECTL", "TIMEOUT"}
STUDENT = "alice"
STUDENT_TAG = "0123456789ab"

Objects = list[dict]


def kustomize(path: Path) -> Objects:
    kubectl = require_tool("kubectl")
    done = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def deploy_sh(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    require_tool("kubectl")
    # A developer's own REGISTRY/OVERLAY/NAMESPACE must not change what the tests see.
    full_env = {k: v for k, v in os.environ.items() if k not in DEPLOY_ENV}
    full_env.update(DRY_RUN="1", **env)
    return subprocess.run(
        ["bash", str(DEPLOY_SH), *args], capture_output=True, text=True, env=full_env, check=False
    )


def with_components(tmp_path: Path, overlay: str) -> Path:
    """A kustomization = the overlay + every component (as a user opts in)."""
    work = tmp_path / f"{overlay}-all"
    work.mkdir(parents=True)
    rel = os.path.relpath
    lines = [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "resources:",
        f"  - {rel(DEPLOY / 'overlays' / overlay, work)}",
        "components:",
        *(f"  - {rel(DEPLOY / 'components' / c, work)}" for c in COMPONENTS),
    ]
    (work / "kustomization.yaml").write_text("\n".join(lines) + "\n")
    return work


RENDERS = [
    *(f"overlay:{o}" for o in OVERLAYS),
    *(f"overlay+components:{o}" for o in OVERLAYS),
    "deploy.sh:gke",
    "deploy.sh:local",
]


@pytest.fixture(scope="module")
def render_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("renders")


def render(which: str, tmp_path: Path) -> Objects:
    kind, _, name = which.partition(":")
    if kind == "overlay":
        return kustomize(DEPLOY / "overlays" / name)
    if kind == "overlay+components":
        return kustomize(with_components(tmp_path, name))
    done = deploy_sh(
        STUDENT,
        f"hello:{STUDENT_TAG}",
        OVERLAY=name,
        REGISTRY="europe-west1-docker.pkg.dev/Seminar/hello",
        NAMESPACE="students",
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module", params=RENDERS)
def objects(request: pytest.FixtureRequest, render_dir: Path) -> Objects:
    return render(request.param, render_dir / request.param.replace(":", "-"))


def only(objects: Objects, kind: str) -> dict:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def maybe(objects: Objects, kind: str) -> Iterator[dict]:
    yield from (o for o in objects if o["kind"] == kind)


def container(objects: Objects) -> dict:
    containers = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["hello"]
    return containers[0]


def pod_spec(objects: Objects) -> dict:
    return only(objects, "Deployment")["spec"]["template"]["spec"]


def pod_labels(objects: Objects) -> dict:
    return only(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]


def seconds(text: str) -> float:
    """nginx time ('5s', '500ms', '1m', '75') in seconds."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h)?", text)
    assert match, text
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[match.group(2)]
    return int(match.group(1)) * scale


def drain_budget(deployment: dict) -> int:
    """HELLO_DRAIN_SECONDS the container runs with: the Deployment's env if it sets
    it, else the image's ENV (Dockerfile), else the supervisor's default."""
    for var in deployment["spec"]["template"]["spec"]["containers"][0].get("env", []):
        if var["name"] == "HELLO_DRAIN_SECONDS":
            return int(var["value"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    match = re.search(r"\bHELLO_DRAIN_SECONDS=(\d+)", dockerfile)
    if match:
        return int(match.group(1))
    supervisor = (ROOT / "docker" / "supervise.py").read_text()
    match = re.search(r"""["']HELLO_DRAIN_SECONDS["']\s*,\s*(\d+)""", supervisor)
    assert match, "no HELLO_DRAIN_SECONDS default found in Dockerfile or docker/supervise.py"
    return int(match.group(1))


def prestop_sleep(objects: Objects) -> int:
    command = container(objects)["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep", command
    assert len(command) == 2, command
    return int(command[1])


def quantity(text: str | int) -> float:
    """A Kubernetes quantity (CPU '250m', '1'; memory '320Mi') as a float."""
    text = str(text)
    suffixes = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, scale in suffixes.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * scale
    return float(text)


# --- every object valid, strictly, against a current Kubernetes ---------------


def test_every_object_validates_strictly_against_current_kubernetes(objects: Objects) -> None:
    checked = 0
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
        checked += 1
    assert checked >= 4  # ServiceAccount, Service, Deployment, PDB at least


def test_strict_validation_rejects_an_unknown_field() -> None:
    """The validator is strict for real: a misspelt field fails."""
    deployment = only(kustomize(DEPLOY / "overlays" / "local"), "Deployment")
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 60
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_base_has_the_production_objects() -> None:
    kinds = sorted(o["kind"] for o in kustomize(DEPLOY / "base"))
    assert kinds == ["Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"]
    pdb = only(kustomize(DEPLOY / "base"), "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"


def test_no_committed_yaml_is_a_template_leftover() -> None:
    """Every YAML under deploy/ parses (kustomize would not say which file is bad)."""
    files = sorted(DEPLOY.rglob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        assert list(yaml.safe_load_all(path.read_text())), path


# --- the zero-downtime settings --------------------------------------------------


def test_rolling_update_never_lowers_capacity(objects: Objects) -> None:
    spec = only(objects, "Deployment")["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert spec["minReadySeconds"] > 0
    # The deadline must leave time for a whole rollout: 3 pods x (start + minReady).
    assert spec["progressDeadlineSeconds"] >= 60
    assert spec["revisionHistoryLimit"] >= 2  # `kubectl rollout undo` needs one


def test_grace_period_exceeds_prestop_plus_the_images_drain_budget(objects: Objects) -> None:
    deployment = only(objects, "Deployment")
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    budget = drain_budget(deployment)
    assert budget > 0
    assert prestop_sleep(objects) + budget < grace


def test_longest_request_fits_in_the_drain_budget(objects: Objects) -> None:
    """A /delay request (up to HELLO_MAX_DELAY) must finish inside the drain."""
    env = {v["name"]: v.get("value") for v in container(objects).get("env", [])}
    max_delay = float(env.get("HELLO_MAX_DELAY") or Settings.model_fields["max_delay"].default)
    assert max_delay < drain_budget(only(objects, "Deployment"))


def test_prestop_outlasts_nginx_keepalive_time(objects: Objects) -> None:
    """Keep-alive clients get `Connection: close` before nginx is told to quit."""
    conf = (ROOT / "docker" / "nginx.conf").read_text()
    match = re.search(r"^\s*keepalive_time\s+(\S+);", conf, re.MULTILINE)
    assert match, "docker/nginx.conf sets no keepalive_time"
    assert seconds(match.group(1)) < prestop_sleep(objects)
    timeout = re.search(r"^\s*keepalive_timeout\s+(\S+?)[;\s]", conf, re.MULTILINE)
    assert timeout, "docker/nginx.conf sets no keepalive_timeout"
    assert seconds(timeout.group(1)) < prestop_sleep(objects)


def test_probes(objects: Objects) -> None:
    spec = container(objects)
    ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    assert ports == {"http": 8000, "metrics": 8080}
    ready, live, start = spec["readinessProbe"], spec["livenessProbe"], spec["startupProbe"]
    assert ready["httpGet"] == {"path": "/readyz", "port": "http"}
    assert live["httpGet"] == {"path": "/healthz", "port": "http"}
    assert start["httpGet"]["port"] == "http"
    assert start["httpGet"]["path"] in {"/healthz", "/readyz"}

    def tolerance(probe: dict) -> int:
        return probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3)

    # Liveness restarts the container: it must be far more patient than readiness.
    assert tolerance(live) >= 3 * tolerance(ready)
    assert live["timeoutSeconds"] >= ready["timeoutSeconds"]
    # Readiness reacts within seconds; startup allows a slow cold start.
    assert tolerance(ready) <= 10
    assert tolerance(start) >= 30
    for probe in (ready, live, start):
        assert probe["timeoutSeconds"] <= probe["periodSeconds"]


def test_workers_follow_the_cpu_limit(objects: Objects) -> None:
    """The app gets the CPU limit (downward API, in millicores) and derives its workers
    from it, 4 per CPU; no fixed HELLO_WORKERS overrides that."""
    spec = container(objects)
    env = {v["name"]: v for v in spec["env"]}
    assert "HELLO_WORKERS" not in env
    field = env["HELLO_CPU_LIMIT"]["valueFrom"]["resourceFieldRef"]
    assert field == {"containerName": spec["name"], "resource": "limits.cpu", "divisor": "1m"}
    millicores = round(quantity(spec["resources"]["limits"]["cpu"]) * 1000)
    settings = load_settings({"cpu_limit": millicores})
    assert worker_count(settings) == 4 * millicores // 1000


def test_requests_and_limits(objects: Objects) -> None:
    resources = container(objects)["resources"]
    for key in ("cpu", "memory"):
        assert quantity(resources["requests"][key]) <= quantity(resources["limits"][key])
    # The limit holds nginx, the gunicorn master and 4 workers (see deploy/README.md).
    assert quantity(resources["limits"]["memory"]) >= 256 * 2**20


def test_security_context(objects: Objects) -> None:
    pod = pod_spec(objects)
    pod_sc, sc = pod["securityContext"], container(objects)["securityContext"]
    assert pod_sc["runAsNonRoot"] is True
    assert pod_sc["runAsUser"] == 10001
    assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 10001
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc.get("privileged", False) is False
    assert pod["automountServiceAccountToken"] is False


def test_only_tmp_is_writable_and_it_is_an_emptydir(objects: Objects) -> None:
    pod = pod_spec(objects)
    mounts = {m["mountPath"]: m["name"] for m in container(objects)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "/tmp" in mounts  # noqa: S108 (a mount path in the pod, not a temp file here)
    for name in mounts.values():
        assert set(volumes[name]) == {"name", "emptyDir"}, volumes[name]
    assert set(mounts) <= {"/tmp", "/dev/shm"}  # noqa: S108


def test_spread_across_nodes_without_blocking_single_node_clusters(objects: Objects) -> None:
    constraints = pod_spec(objects)["topologySpreadConstraints"]
    keys = {c["topologyKey"] for c in constraints}
    assert "kubernetes.io/hostname" in keys
    for c in constraints:
        assert c["whenUnsatisfiable"] == "ScheduleAnyway"
        assert c["maxSkew"] == 1
        assert c["labelSelector"]["matchLabels"].items() <= pod_labels(objects).items()
        selector = only(objects, "Deployment")["spec"]["selector"]["matchLabels"]
        assert c["labelSelector"]["matchLabels"] == selector


def test_prometheus_scrapes_the_metrics_port(objects: Objects) -> None:
    annotations = only(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8080"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_service_account_has_no_token(objects: Objects) -> None:
    account = only(objects, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert pod_spec(objects)["serviceAccountName"] == account["metadata"]["name"]


def test_selectors_match_exactly_this_deployments_pods(objects: Objects) -> None:
    deployment = only(objects, "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels(objects).items()
    service, pdb = only(objects, "Service"), only(objects, "PodDisruptionBudget")
    assert service["spec"]["selector"] == selector
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    # The Service routes only to nginx's port, never to the metrics port.
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(8000, "http")]
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": selector}}


def test_images_are_pinned_by_tag(objects: Objects) -> None:
    image = container(objects)["image"]
    name, _, tag = image.rpartition(":")
    assert name, f"{image} has no tag"
    assert "/" not in tag
    assert tag != "latest"


def test_components_are_consistent_with_the_deployment(objects: Objects) -> None:
    deployment = only(objects, "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    for hpa in maybe(objects, "HorizontalPodAutoscaler"):
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        assert hpa["spec"]["minReplicas"] >= deployment["spec"]["replicas"]
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    for policy in maybe(objects, "NetworkPolicy"):
        assert policy["spec"]["podSelector"]["matchLabels"] == selector
        ports = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
        assert ports == {"http", "metrics"}
    for monitor in maybe(objects, "PodMonitor"):
        # No schema for a CRD in kubernetes-validate: checked field by field.
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert set(monitor["spec"]) == {"jobLabel", "selector", "podMetricsEndpoints"}
        # The rules and the dashboard select job="hello": the job comes from this label.
        assert pod_labels(objects)[monitor["spec"]["jobLabel"]] == "hello"
        assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels(objects).items()
        endpoints = monitor["spec"]["podMetricsEndpoints"]
        assert [(e["port"], e["path"]) for e in endpoints] == [("metrics", "/metrics")]
        assert set(endpoints[0]) <= {"port", "path", "interval", "scrapeTimeout"}


def test_components_render_only_when_opted_in(render_dir: Path) -> None:
    plain = {o["kind"] for o in kustomize(DEPLOY / "overlays" / "local")}
    all_in = {o["kind"] for o in kustomize(with_components(render_dir / "optin", "local"))}
    assert all_in - plain == {"HorizontalPodAutoscaler", "NetworkPolicy", "PodMonitor"}
    assert COMPONENTS == ["hpa", "monitoring", "networkpolicy"]


# --- the overlays ------------------------------------------------------------------


def test_local_overlay_uses_the_local_engine_and_a_nodeport() -> None:
    objects = kustomize(DEPLOY / "overlays" / "local")
    spec = container(objects)
    assert spec["image"] == "hello:local"
    assert spec["imagePullPolicy"] == "IfNotPresent"
    assert only(objects, "Service")["spec"]["type"] == "NodePort"


def test_gke_overlay_is_a_load_balancer_on_8000_from_a_registry() -> None:
    objects = kustomize(DEPLOY / "overlays" / "gke")
    service = only(objects, "Service")
    assert service["spec"]["type"] == "LoadBalancer"
    assert [p["port"] for p in service["spec"]["ports"]] == [8000]
    assert container(objects)["image"] == "registry.invalid/hello:set-by-deploy-sh"


# --- deploy.sh (make deploy NAME=alice) -------------------------------------------------


@pytest.mark.parametrize("overlay", ["gke", "local"])
def test_deploy_sh_names_everything_after_the_student(overlay: str, render_dir: Path) -> None:
    objects = render(f"deploy.sh:{overlay}", render_dir / f"names-{overlay}")
    assert {o["metadata"]["name"] for o in objects} == {f"hello-{STUDENT}"}
    assert {o["metadata"]["namespace"] for o in objects} == {"students"}
    image = container(objects)["image"]
    assert image.endswith(f"/hello:{STUDENT_TAG}") or image == f"hello:{STUDENT_TAG}"
    assert pod_labels(objects)["app.kubernetes.io/instance"] == STUDENT
    assert only(objects, "Deployment")["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "hello",
        "app.kubernetes.io/instance": STUDENT,
    }


def test_deploy_sh_puts_the_image_in_the_registry_in_lower_case() -> None:
    done = deploy_sh(STUDENT, f"hello:{STUDENT_TAG}", REGISTRY="europe-west1-docker.pkg.dev/P/R")
    assert done.returncode == 0, done.stderr
    image = container([d for d in yaml.safe_load_all(done.stdout) if d])["image"]
    assert image == f"europe-west1-docker.pkg.dev/p/r/hello:{STUDENT_TAG}"
    # CI passes the full registry image (make deploy IMAGE=$REGISTRY/hello): kept as is.
    done = deploy_sh(STUDENT, f"ghcr.io/owner/hello:{STUDENT_TAG}", REGISTRY="ignored.example")
    assert done.returncode == 0, done.stderr
    image = container([d for d in yaml.safe_load_all(done.stdout) if d])["image"]
    assert image == f"ghcr.io/owner/hello:{STUDENT_TAG}"


def test_two_students_do_not_share_pods() -> None:
    renders = {}
    for name in ("alice", "bob"):
        done = deploy_sh(name, "hello:abc", OVERLAY="local")
        assert done.returncode == 0, done.stderr
        renders[name] = [d for d in yaml.safe_load_all(done.stdout) if d]
    alice_pods = pod_labels(renders["alice"])
    bob_selector = only(renders["bob"], "Service")["spec"]["selector"]
    assert not bob_selector.items() <= alice_pods.items()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "hello:abc"), "NAME='' is not usable"),
        (("Alice", "hello:abc"), "NAME='Alice' is not usable"),
        (("al_ice", "hello:abc"), "is not usable"),
        (("-alice", "hello:abc"), "is not usable"),
        (("a" * 41, "hello:abc"), "is not usable"),
        (("alice", "hello"), "has no tag"),
        (("alice", "hello:latest"), "never :latest"),
        (("alice",), "usage"),
    ],
)
def test_deploy_sh_refuses_bad_arguments(args: tuple[str, ...], message: str) -> None:
    done = deploy_sh(*args, OVERLAY="local")
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


def test_deploy_sh_on_gke_needs_a_registry_before_touching_a_cluster() -> None:
    """Without DRY_RUN and REGISTRY, it stops before running kubectl at all."""
    env = {k: v for k, v in os.environ.items() if k not in DEPLOY_ENV}
    env["KUBECTL"] = "/nonexistent/kubectl"
    done = subprocess.run(
        ["bash", str(DEPLOY_SH), STUDENT, "hello:abc"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert "set REGISTRY" in done.stderr


def test_deploy_sh_rejects_an_unknown_overlay() -> None:
    done = deploy_sh(STUDENT, "hello:abc", OVERLAY="prod")
    assert done.returncode == 2
    assert "OVERLAY='prod' does not exist" in done.stderr


def test_make_deploy_passes_name_and_the_commits_image() -> None:
    """`make deploy NAME=alice` runs deploy.sh with hello:<12-char commit>."""
    make = require_tool("make")
    done = subprocess.run(
        [make, "-n", "deploy", "NAME=alice", "TAG=0123456789ab"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert 'deploy/deploy.sh "alice" "hello:0123456789ab"' in done.stdout
