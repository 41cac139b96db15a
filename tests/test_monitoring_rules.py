"""The monitoring files are valid and consistent: promtool checks and unit tests, the
Grafana dashboard and provisioning, and compose.yaml.

promtool is Debian's (package prometheus). Debian builds Prometheus without the
Kubernetes service discovery, so the Kubernetes scrape configuration is checked with
its discovery swapped for a file-based one; its relabelling is then exercised on a real
Prometheus by tests/test_prometheus_queries.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml
from servers import free_port, require_tool, wait_until

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "monitoring" / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.test.yml"))
GRAFANA = ROOT / "monitoring" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "hello.json"
COMPOSE = ROOT / "compose.yaml"

# Multiprocess mode exports none of these: a panel on them would always be empty.
NOT_IN_MULTIPROCESS = ("process_", "python_gc_", "python_info")


def run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)


def alerts() -> list[dict]:
    return [
        rule
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


# --- Prometheus rules and configuration -----------------------------------------------


def test_rule_files_are_valid() -> None:
    """promtool check rules: every rule file parses, every expression is valid PromQL."""
    promtool = require_tool("promtool")
    assert RULES
    result = run(promtool, "check", "rules", *RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    """promtool test rules: the recording rules compute what they should and each alert
    fires, with its labels and rendered annotations, or stays silent as expected."""
    promtool = require_tool("promtool")
    assert RULE_TESTS
    result = run(promtool, "test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_silent() -> None:
    """Each alert has a promtool case where it fires and one where it must stay silent."""
    fires: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names
    assert names - fires == set(), "alerts never tested firing"
    assert names - silent == set(), "alerts never tested silent"


def test_every_alert_tells_what_to_look_at() -> None:
    """A severity, a summary and a description of some substance on every alert."""
    for rule in alerts():
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert len(rule["annotations"]["description"]) > 150, rule["alert"]


def test_slo_alerts_follow_the_multi_window_multi_burn_rate_recipe() -> None:
    """99.9% objective: 14.4x over 1h and 5m, 6x over 6h and 30m, 3x over 1d and 2h,
    1x over 3d and 6h (Google SRE workbook, "Alerting on SLOs")."""
    by_name = {rule["alert"]: " ".join(rule["expr"].split()) for rule in alerts()}
    expected = {
        "HelloErrorBudgetFastBurn": ("ratio_rate1h", "ratio_rate5m", "(14.4 * 0.001)"),
        "HelloErrorBudgetBurn": ("ratio_rate6h", "ratio_rate30m", "(6 * 0.001)"),
        "HelloErrorBudgetSlowBurn": (
            *("ratio_rate1d", "ratio_rate2h", "(3 * 0.001)"),
            *("ratio_rate3d", "ratio_rate6h", "(1 * 0.001)"),
        ),
    }
    for name, parts in expected.items():
        for part in parts:
            assert part in by_name[name], (name, part)


@pytest.mark.parametrize("name", ["local.yml", "compose.yml"])
def test_scrape_config_is_valid(name: str) -> None:
    """promtool check config on the local and compose configurations (and their rules)."""
    promtool = require_tool("promtool")
    result = run(promtool, "check", "config", PROMETHEUS / name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert yaml.safe_load((PROMETHEUS / name).read_text())["scrape_configs"][0]["job_name"] == (
        "hello"
    )


def test_kubernetes_scrape_config_is_valid(tmp_path: Path) -> None:
    """The Kubernetes configuration discovers pods and keeps the annotated ones; promtool
    checks all of it but the discovery itself (not built into Debian's Prometheus)."""
    promtool = require_tool("promtool")
    config = yaml.safe_load((PROMETHEUS / "kubernetes.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    keep = job["relabel_configs"][0]
    assert keep == {
        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
        "action": "keep",
        "regex": "true",
    }

    del job["kubernetes_sd_configs"]
    job["file_sd_configs"] = [{"files": [str(tmp_path / "pods.json")]}]
    config["rule_files"] = [str(PROMETHEUS / rule) for rule in config["rule_files"]]
    checked = tmp_path / "kubernetes.yml"
    checked.write_text(yaml.safe_dump(config))
    result = run(promtool, "check", "config", checked)
    assert result.returncode == 0, result.stdout + result.stderr


# --- Grafana ---------------------------------------------------------------------------


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_dashboard_has_the_panels_an_operator_needs() -> None:
    """Requests by status, error ratio, latency quantiles, in-flight, replicas by version,
    SLO burn; unique panel ids; every target on the provisioned data source."""
    dashboard = json.loads(DASHBOARD.read_text())
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {
        "Requests/s by status",
        "Error ratio",
        "Latency p50 / p90 / p99",
        "In-flight requests",
        "Replicas serving by version",
        "Error budget burn rate",
    } <= titles
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    datasource = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"], panel["title"]
    latency = next(p for p in dashboard["panels"] if p["title"] == "Latency p50 / p90 / p99")
    assert [t["legendFormat"] for t in latency["targets"]] == ["p50", "p90", "p99"]


def test_dashboard_uses_no_metric_multiprocess_mode_lacks() -> None:
    """No process_*, python_gc_* or python_info: multiprocess mode does not export them."""
    for expr in dashboard_exprs():
        for prefix in NOT_IN_MULTIPROCESS:
            assert prefix not in expr, expr


def test_grafana_provisioning_points_at_the_dashboard() -> None:
    """The dashboards provider reads the folder compose.yaml mounts the JSON into."""
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "hello.yml").read_text())
    [entry] = provider["providers"]
    compose = yaml.safe_load(COMPOSE.read_text())
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["grafana"]["volumes"])
    assert mounts["./monitoring/grafana/dashboards"] == entry["options"]["path"]
    assert mounts["./monitoring/grafana/provisioning"] == "/etc/grafana/provisioning"


# --- compose.yaml ----------------------------------------------------------------------


def test_compose_file_matches_the_compose_spec() -> None:
    """compose.yaml validates against the Compose specification's JSON schema."""
    # check-jsonschema is in the lint dependency group, installed beside this Python.
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = run(checker, "--builtin-schema", "vendor.compose-spec", COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_is_accepted_by_docker_compose() -> None:
    """`docker-compose config` parses and resolves compose.yaml (Debian's docker-compose)."""
    compose = require_tool("docker-compose")
    result = run(compose, "-f", COMPOSE, "config")
    assert result.returncode == 0, result.stdout + result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == {"app", "prometheus", "grafana"}


def test_compose_wires_prometheus_to_the_app_and_the_rules() -> None:
    """Prometheus in compose reads monitoring/prometheus/compose.yml, which scrapes app:8080."""
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert services["app"]["build"]["context"] == "."
    prometheus = services["prometheus"]
    mounts = dict(volume.split(":")[:2] for volume in prometheus["volumes"])
    assert mounts["./monitoring/prometheus"] == "/etc/prometheus/hello"
    assert "--config.file=/etc/prometheus/hello/compose.yml" in prometheus["command"]
    config = yaml.safe_load((PROMETHEUS / "compose.yml").read_text())
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == ["app:8080"]
    for service in services.values():
        if "image" in service and service is not services["app"]:
            assert ":" in service["image"]
            assert not service["image"].endswith(":latest")


@pytest.mark.integration
def test_compose_app_service_builds_and_serves() -> None:
    """`docker-compose build app` then `up app` (without Prometheus and Grafana, whose
    images cannot be pulled here): hello answers on the public port, its metrics on
    the metrics port, and the public port has no /metrics. Removed afterwards."""
    compose = require_tool("docker-compose")
    require_tool("docker")
    project = ["-p", "hellomon5test", "-f", str(COMPOSE)]
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "HELLO_PORT": str(port),
        "HELLO_METRICS_PORT": str(metrics_port),
        "COMMIT": "c0mp05e",
    }

    def compose_run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [compose, *project, *args], env=env, capture_output=True, text=True, timeout=timeout
        )

    built = compose_run("build", "app", timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    try:
        up = compose_run("up", "-d", "--no-deps", "--no-build", "app")
        assert up.returncode == 0, up.stdout + up.stderr
        url, metrics_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
        assert wait_until(lambda: requests.get(url + "/readyz", timeout=2).ok, timeout=60), (
            compose_run("logs", "app").stdout[-3000:]
        )
        assert requests.get(url + "/", timeout=5).text == "Hello, World!\n"
        metrics = requests.get(metrics_url + "/metrics", timeout=5).text
        assert 'hello_build_info{commit="c0mp05e"' in metrics
        assert 'hello_http_requests_total{method="GET",route="/",status="200"}' in metrics
        assert requests.get(url + "/metrics", timeout=5).status_code == 404
    finally:
        down = compose_run("down", "-v", "--remove-orphans")
        assert down.returncode == 0, down.stdout + down.stderr
