"""Every query of the rules and of the dashboard, proved on a real Prometheus.

Debian's `prometheus` server scrapes the real app under gunicorn every second,
through the Kubernetes scrape configuration of monitoring/prometheus/kubernetes.yml
(its relabelling: annotations, port, job from the app label) and loads the real
rule files. A known mix of traffic is sent; then, through Prometheus's HTTP API,
every expression of the recording rules, the alerts and the dashboard panels is
evaluated, and the numbers are compared with the traffic sent.

Two parts are stand-ins, since they cannot run here:
- Kubernetes' pod discovery: Debian builds Prometheus without it, so the pods are
  described to Prometheus in a file_sd file with the same __meta_kubernetes_* labels
  the Kubernetes discovery would give; the relabelling that follows is the real one.
- kube-state-metrics (its image cannot be pulled): a small HTTP server in this test
  serves the one series the replicas alert reads, in the same exposition format.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from servers import free_port, gunicorn, require_tool, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "monitoring" / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
DASHBOARD = ROOT / "monitoring" / "grafana" / "dashboards" / "hello.json"

# Grafana's variables, as Grafana would expand them for a 1-second scrape interval.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1s",
    "$__range": "5m",
    # The "app" picker set to All, as the dashboard opens.
    "$app_instance": ".*",
}

# The traffic sent: (path, how many times, route template, status).
TRAFFIC = [
    ("/", 200, "/", "200"),
    ("/status/500", 30, "/status/<code>", "500"),
    ("/delay/0.3", 8, "/delay/<seconds>", "200"),
]
# Alerts whose expression must return nothing with this traffic (a target exists).
SILENT = {"HelloTargetMissing"}

KSM_SERIES = (
    "# HELP kube_deployment_status_replicas_available The number of available replicas.\n"
    "# TYPE kube_deployment_status_replicas_available gauge\n"
    'kube_deployment_status_replicas_available{namespace="seminar",deployment="hello"} 1\n'
    'kube_deployment_status_replicas_available{namespace="seminar",deployment="other"} 3\n'
)


class _KubeStateMetrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = KSM_SERIES.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def kube_state_metrics() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KubeStateMetrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def pod(address: str, metrics_port: int | None, name: str, phase: str = "Running") -> dict:
    """A pod as Kubernetes' discovery describes it (role: pod)."""
    labels = {
        "__meta_kubernetes_namespace": "seminar",
        "__meta_kubernetes_pod_name": name,
        "__meta_kubernetes_pod_phase": phase,
        "__meta_kubernetes_pod_label_app_kubernetes_io_name": name.rsplit("-", 1)[0],
        "__meta_kubernetes_pod_label_app_kubernetes_io_instance": name,
    }
    if metrics_port is not None:
        labels["__meta_kubernetes_pod_annotation_prometheus_io_scrape"] = "true"
        labels["__meta_kubernetes_pod_annotation_prometheus_io_port"] = str(metrics_port)
    return {"targets": [address], "labels": labels}


def prometheus_config(tmp_path: Path, pods: list[dict], kube_state_metrics: str) -> Path:
    """kubernetes.yml with a file of pods for discovery, 1 s intervals and our rule files."""
    config = yaml.safe_load((PROMETHEUS / "kubernetes.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS / rule) for rule in config["rule_files"]]
    [job] = config["scrape_configs"]
    del job["kubernetes_sd_configs"]
    (tmp_path / "pods.json").write_text(json.dumps(pods))
    job["file_sd_configs"] = [{"files": [str(tmp_path / "pods.json")]}]
    config["scrape_configs"].append(
        {"job_name": "kube-state-metrics", "static_configs": [{"targets": [kube_state_metrics]}]}
    )
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr, **({"time": f"{at:.3f}"} if at is not None else {})}
        answer = requests.get(self.url + "/api/v1/query", params=params, timeout=10).json()
        assert answer["status"] == "success", (expr, answer)
        return answer["data"]["result"]

    def query_range(self, expr: str, start: float, end: float) -> list[dict]:
        params = {"query": expr, "start": start, "end": end, "step": "1s"}
        answer = requests.get(self.url + "/api/v1/query_range", params=params, timeout=10).json()
        assert answer["status"] == "success", (expr, answer)
        return answer["data"]["result"]

    def values(self, expr: str, by: str, at: float | None = None) -> dict[str, float]:
        return {r["metric"].get(by, ""): float(r["value"][1]) for r in self.query(expr, at)}

    def scalar(self, expr: str, at: float | None = None) -> float:
        [result] = self.query(expr, at)
        return float(result["value"][1])


def start_prometheus(tmp_path: Path, config: Path) -> tuple[subprocess.Popen, Prometheus]:
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            require_tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    ready = wait_until(lambda: requests.get(url + "/-/ready", timeout=1).ok, timeout=30)
    assert ready, (tmp_path / "prometheus.log").read_text()
    return process, Prometheus(url)


def rule_exprs() -> dict[str, str]:
    """Every recording rule and alert expression of the rule files, by its name."""
    return {
        rule.get("record") or rule["alert"]: rule["expr"]
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    }


def dashboard_targets() -> list[tuple[str, str, bool]]:
    """(panel title, expression with Grafana's variables expanded, is a range query)."""
    targets = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, (panel["title"], expr)
            targets.append((panel["title"], expr, panel["type"] != "stat"))
    return targets


def send_traffic(base_url: str) -> None:
    calls = [path for path, count, _, _ in TRAFFIC for _ in range(count)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda path: requests.get(base_url + path, timeout=10), calls))
    expected = [int(status) for _, count, _, status in TRAFFIC for _ in range(count)]
    assert [answer.status_code for answer in answers] == expected


def test_every_query_returns_data_that_matches_the_traffic(
    tmp_path: Path, kube_state_metrics: str
) -> None:
    require_tool("prometheus")
    with gunicorn(tmp_path, env={"HELLO_COMMIT": "feedc0de"}, workers=2) as app:
        app_port = urlsplit(app.url).port
        metrics_port = urlsplit(app.metrics_url).port
        pods = [
            pod(f"127.0.0.1:{app_port}", metrics_port, "hello-live"),
            pod(f"127.0.0.1:{free_port()}", free_port(), "hello-dead"),  # nothing listens
            pod("127.0.0.1:1", None, "other-1"),  # not annotated: never scraped
            pod("127.0.0.1:2", 2, "hello-pending", phase="Pending"),  # not running yet
        ]
        config = prometheus_config(tmp_path, pods, kube_state_metrics)
        process, prom = start_prometheus(tmp_path, config)
        try:
            check_queries(prom, app.url, metrics_port)
        finally:
            process.terminate()
            process.wait(30)


def check_queries(prom: Prometheus, app_url: str, metrics_port: int) -> None:
    started = time.time()
    # The annotations and labels select, relabel and name the targets as the rules expect.
    assert wait_until(lambda: prom.query('up{job="hello"} == 1'), timeout=20)
    targets = requests.get(prom.url + "/api/v1/targets", timeout=10).json()["data"]
    hello = {
        t["labels"]["pod"]: t for t in targets["activeTargets"] if t["labels"]["job"] == "hello"
    }
    assert set(hello) == {"hello-live", "hello-dead"}
    assert hello["hello-live"]["labels"]["instance"] == f"127.0.0.1:{metrics_port}"
    assert hello["hello-live"]["labels"]["namespace"] == "seminar"
    assert hello["hello-live"]["labels"]["app_instance"] == "hello-live"
    assert hello["hello-live"]["scrapeUrl"].endswith(f":{metrics_port}/metrics")
    dropped = {
        t["discoveredLabels"]["__meta_kubernetes_pod_name"] for t in targets["droppedTargets"]
    }
    assert dropped == {"other-1", "hello-pending"}

    # One request of each kind first, so that every series exists (a rate needs two
    # samples); the baseline after a scrape; the traffic; then a scrape that saw it all.
    for path, _, _, _ in TRAFFIC:
        requests.get(app_url + path, timeout=10)
    requests_by_key = 'sum by (route, status) (hello_http_requests_total{job="hello"})'
    before_at = time.time()
    assert wait_until(lambda: prom.query(f"timestamp(up{{pod='hello-live'}}) > {before_at}"))
    before_at = time.time()
    before = {key(r): float(r["value"][1]) for r in prom.query(requests_by_key, before_at)}
    bucket = 'sum by (le) (hello_http_request_duration_seconds_bucket{route="/delay/<seconds>"})'
    buckets_before = prom.values(bucket, "le", before_at)
    send_traffic(app_url)
    sent_at = time.time()
    assert wait_until(lambda: prom.query(f"timestamp(up{{pod='hello-live'}}) > {sent_at}"))
    # ...and a rule evaluation after that scrape.
    time.sleep(2.5)
    after_at = time.time()
    after = {key(r): float(r["value"][1]) for r in prom.query(requests_by_key, after_at)}

    # Exact: the increase of each counter is what was sent.
    for _, count, route, status in TRAFFIC:
        assert after[(route, status)] - before.get((route, status), 0.0) == count, route
    buckets_after = prom.values(bucket, "le", after_at)
    slow = next(count for path, count, _, _ in TRAFFIC if path.startswith("/delay"))
    assert buckets_after.get("0.25", 0) - buckets_before.get("0.25", 0) == 0
    assert buckets_after["0.5"] - buckets_before.get("0.5", 0) == slow
    assert prom.scalar('sum(hello_http_requests_in_flight{job="hello"})') == 0
    assert prom.values('count by (commit) (hello_build_info{job="hello"})', "commit") == {
        "feedc0de": 1
    }
    assert prom.scalar('count(up{job="hello"} == 1)') == 1

    # The recording rules agree with the traffic (rates extrapolate a little: 15%).
    total = sum(count for _, count, _, _ in TRAFFIC)
    errors = sum(count for _, count, _, status in TRAFFIC if status.startswith("5"))
    ratio = prom.scalar('job:hello_http_errors:ratio_rate5m{job="hello"}')
    assert ratio == pytest.approx(errors / total, rel=0.15)
    delay_p99 = prom.values(
        'job_route:hello_http_request_duration_seconds:p99_rate5m{job="hello"}', "route"
    )["/delay/<seconds>"]
    assert 0.25 < delay_p99 <= 0.5
    assert prom.scalar('job:hello_http_request_duration_seconds:p50_rate5m{job="hello"}') < 0.01

    # Every expression of the rules returns data, but the alerts that must stay silent.
    exprs = rule_exprs()
    for name, expr in exprs.items():
        result = prom.query(expr)
        if name in SILENT:
            assert result == [], name
        else:
            assert result, f"{name} returned no data: {expr}"
    # Prometheus itself evaluates the alerts: all but the silent ones are on their way.
    alerts = requests.get(prom.url + "/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    active = {a["labels"]["alertname"] for a in alerts if a["state"] in {"pending", "firing"}}
    alert_names = {name for name in exprs if name[0].isupper()}
    assert active == alert_names - SILENT
    rules = requests.get(prom.url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    unhealthy = [r["name"] for g in rules for r in g["rules"] if r["health"] != "ok"]
    assert unhealthy == []

    # Every dashboard target returns data, as Grafana would ask for it.
    now = time.time()
    for title, expr, is_range in dashboard_targets():
        result = prom.query_range(expr, started, now) if is_range else prom.query(expr)
        assert result, f"panel {title!r} has no data: {expr}"


def key(result: dict) -> tuple[str, str]:
    return result["metric"]["route"], result["metric"]["status"]


def test_grafana_variables_are_all_known() -> None:
    """The dashboard uses no Grafana variable this test would not know how to expand."""
    text = DASHBOARD.read_text()
    used = set(re.findall(r"\$\{?\w+", text))
    assert used <= set(GRAFANA_VARIABLES)
