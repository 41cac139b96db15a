"""The RED metrics: what each request records, and that the totals stay exact under gunicorn.

The first tests drive the app through Flask's test client and read prometheus_client's
registry of this process. The integration tests start the real gunicorn (several sync
workers, multiprocess mode) and read what its metrics port serves, as Prometheus does.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from prometheus_client.mmap_dict import MmapedDict
from servers import gunicorn, in_flight, scrape, wait_until

from hello import create_app
from hello.about import PYTHON, VERSION
from hello.metrics import LATENCY_BUCKETS, METHODS, OTHER_METHOD, UNMATCHED

REQUESTS = "hello_http_requests_total"


def value(name: str, **labels: str) -> float:
    """A sample of this process's registry; 0 when the series does not exist yet."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def label_sets(name: str) -> set[tuple[tuple[str, str], ...]]:
    """Every label set of the samples called ``name`` in this process's registry."""
    return {
        tuple(sorted(sample.labels.items()))
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == name
    }


# --- through the Flask test client ----------------------------------------------


def test_counter_counts_each_request_by_method_route_template_and_status(
    client: FlaskClient,
) -> None:
    """GET / twice, POST / once (405) and one 500: each lands in its own series."""
    ok = {"method": "GET", "route": "/", "status": "200"}
    refused = {"method": "POST", "route": UNMATCHED, "status": "405"}
    failed = {"method": "GET", "route": "/status/<code>", "status": "500"}
    before = [value(REQUESTS, **labels) for labels in (ok, refused, failed)]

    assert client.get("/").status_code == 200
    assert client.get("/").status_code == 200
    assert client.post("/").status_code == 405
    assert client.get("/status/500").status_code == 500

    after = [value(REQUESTS, **labels) for labels in (ok, refused, failed)]
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 1, 1]


def test_histogram_puts_a_slow_request_in_the_right_buckets(client: FlaskClient) -> None:
    """/delay/0.05 is counted once, above the 25 ms bucket and within the 100 ms one."""
    labels = {"method": "GET", "route": "/delay/<seconds>"}
    name = "hello_http_request_duration_seconds"

    def snapshot() -> dict[str, float]:
        return {
            "count": value(name + "_count", **labels),
            "sum": value(name + "_sum", **labels),
            "le_0.025": value(name + "_bucket", le="0.025", **labels),
            "le_0.1": value(name + "_bucket", le="0.1", **labels),
            "le_inf": value(name + "_bucket", le="+Inf", **labels),
        }

    before = snapshot()
    assert client.get("/delay/0.05").status_code == 200
    after = snapshot()

    delta = {key: after[key] - before[key] for key in before}
    assert delta["count"] == 1
    assert delta["le_0.025"] == 0
    assert delta["le_0.1"] == 1
    assert delta["le_inf"] == 1
    assert 0.05 <= delta["sum"] < 0.1


def test_buckets_cover_a_hello_and_the_longest_delay() -> None:
    """From 1 ms (a hello) up past 30 s (the default HELLO_MAX_DELAY), in increasing order."""
    assert list(LATENCY_BUCKETS) == sorted(LATENCY_BUCKETS)
    assert LATENCY_BUCKETS[0] <= 0.001
    assert LATENCY_BUCKETS[-1] >= 30


def test_in_flight_counts_the_request_being_served_and_returns_to_zero(app: Flask) -> None:
    """Inside a request the gauge is one higher; after it, even after an exception, back."""
    seen: list[float] = []

    @app.get("/test-in-flight")
    def in_flight() -> str:
        seen.append(value("hello_http_requests_in_flight"))
        return "ok"

    @app.get("/test-crash")
    def crash() -> str:
        raise RuntimeError("boom")

    client = app.test_client()
    baseline = value("hello_http_requests_in_flight")
    assert client.get("/test-in-flight").status_code == 200
    assert seen == [baseline + 1]
    assert client.get("/test-crash").status_code == 500
    assert value("hello_http_requests_in_flight") == baseline


def test_build_info_carries_version_commit_and_python(app: Flask) -> None:
    """hello_build_info is 1 with the version, the commit given and the Python version."""
    labels = {"version": VERSION, "commit": "0123abc", "python": PYTHON}
    assert value("hello_build_info", **labels) == 1


def test_unknown_paths_share_one_series(client: FlaskClient) -> None:
    """1,000 random paths add one series, route="<unmatched>", not 1,000."""
    paths = {f"/{secrets.token_hex(4)}/{secrets.token_urlsafe(6)}" for _ in range(1000)}
    assert len(paths) == 1000
    unmatched = {"method": "GET", "route": UNMATCHED, "status": "404"}
    before_count = value(REQUESTS, **unmatched)
    before_counter = label_sets(REQUESTS)
    before_histogram = label_sets("hello_http_request_duration_seconds_count")

    for path in paths:
        assert client.get(path).status_code == 404

    assert value(REQUESTS, **unmatched) - before_count == 1000
    new_counter = label_sets(REQUESTS) - before_counter
    new_histogram = label_sets("hello_http_request_duration_seconds_count") - before_histogram
    assert new_counter <= {tuple(sorted(unmatched.items()))}
    assert new_histogram <= {(("method", "GET"), ("route", UNMATCHED))}
    routes = {dict(labels)["route"] for labels in label_sets(REQUESTS)}
    assert not routes & paths


def test_made_up_methods_share_one_series(client: FlaskClient) -> None:
    """100 invented method names (answered 405) add one series, method="<other>"."""
    methods = {"X" + secrets.token_hex(4).upper() for _ in range(100)}
    other = {"method": OTHER_METHOD, "route": UNMATCHED, "status": "405"}
    before_count = value(REQUESTS, **other)
    before = label_sets(REQUESTS)

    for method in methods:
        assert client.open("/", method=method).status_code == 405

    assert value(REQUESTS, **other) - before_count == 100
    assert label_sets(REQUESTS) - before <= {tuple(sorted(other.items()))}
    assert {dict(labels)["method"] for labels in label_sets(REQUESTS)} <= METHODS | {OTHER_METHOD}


def test_metrics_off_records_nothing() -> None:
    """HELLO_METRICS=off: requests leave every series as it was."""
    client = create_app({"metrics": False, "commit": "0123abc"}).test_client()
    labels = {"method": "GET", "route": "/", "status": "200"}
    before = value(REQUESTS, **labels)
    assert client.get("/").status_code == 200
    assert value(REQUESTS, **labels) == before


# --- the real gunicorn ---------------------------------------------------------------


def requests_of(samples: dict, route: str, status: str = "200") -> float:
    key = (REQUESTS, (("method", "GET"), ("route", route), ("status", status)))
    return samples.get(key, 0.0)


def worker_pids(master: int) -> set[int]:
    """The PIDs of gunicorn's workers: the children of its master, read from /proc."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we read
            continue
        if int(fields[1]) == master:
            children.add(int(stat.parent.name))
    return children


def booted(multiproc_dir: Path) -> set[int]:
    """The PIDs of the workers that loaded the app: each has created its in-flight gauge file.

    gunicorn answers /readyz as soon as one worker is up; on a busy machine the others
    may still be importing the app for a second or two.
    """
    return {int(path.stem.rsplit("_", 1)[1]) for path in multiproc_dir.glob("gauge_livesum_*.db")}


@pytest.fixture
def four_workers(tmp_path: Path) -> Iterator:
    with gunicorn(tmp_path, workers=4) as server:
        assert wait_until(lambda: len(booted(tmp_path / "metrics")) == 4, timeout=30)
        yield server


@pytest.mark.integration
def test_totals_are_exact_across_four_workers(four_workers, tmp_path: Path) -> None:
    """N requests spread over 4 workers: every scrape of the metrics port says exactly N.
    The same 4 workers serve from start to end: the configuration recycles none."""
    n = 400
    workers = worker_pids(four_workers.process.pid)
    assert len(workers) == 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda _: requests.get(four_workers.url + "/", timeout=10).status_code, range(n)
            )
        )
    assert statuses == [200] * n
    # More than one worker served (each writes its own counter file), so the sum is real.
    served_by = [
        path for path in (tmp_path / "metrics").glob("counter_*.db") if path.stat().st_size
    ]
    assert len(served_by) >= 2, served_by

    totals = [requests_of(scrape(four_workers.metrics_url), "/") for _ in range(5)]
    assert totals == [n] * 5
    assert worker_pids(four_workers.process.pid) == workers
    samples = scrape(four_workers.metrics_url)
    count_key = (
        "hello_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/")),
    )
    assert samples[count_key] == n
    assert in_flight(samples) == 0
    # One build-info series, whatever the number of workers (multiprocess mode "max").
    build = [key for key in samples if key[0] == "hello_build_info"]
    assert len(build) == 1


@pytest.mark.integration
def test_metrics_port_serves_only_metrics(tmp_path: Path) -> None:
    """The metrics port answers 404 except on /metrics; the public port has no /metrics."""
    with gunicorn(tmp_path) as server:
        assert requests.get(server.metrics_url + "/metrics", timeout=5).status_code == 200
        for path in ("/", "/metrics/", "/metricsx", "/healthz", "/version", "/anything"):
            response = requests.get(server.metrics_url + path, timeout=5)
            assert response.status_code == 404, path
            assert response.json()["status"] == 404
        public = requests.get(server.url + "/metrics", timeout=5)
        assert public.status_code == 404
        assert "hello_http_requests_total" not in public.text


@pytest.mark.integration
def test_killed_worker_is_marked_dead(tmp_path: Path) -> None:
    """SIGKILL the worker serving a request: gunicorn respawns it, in-flight drops back to 0,
    the dead worker's live gauge file is removed, and no counter goes backwards."""
    with gunicorn(tmp_path, workers=2) as server:
        assert wait_until(lambda: len(booted(tmp_path / "metrics")) == 2, timeout=30)
        for _ in range(20):
            assert requests.get(server.url + "/", timeout=5).status_code == 200
        before = scrape(server.metrics_url)
        assert requests_of(before, "/") == 20

        outcome: list[str] = []

        def slow_request() -> None:
            try:
                response = requests.get(server.url + "/delay/20", timeout=30)
                outcome.append(f"answered {response.status_code}")
            except requests.ConnectionError:
                outcome.append("connection broken")  # the worker died under it, as expected

        thread = threading.Thread(target=slow_request)
        thread.start()
        assert wait_until(lambda: in_flight(scrape(server.metrics_url)) == 1, timeout=10)
        busy = [
            path
            for path in (tmp_path / "metrics").glob("gauge_livesum_*.db")
            if any(v == 1 for _, v, _, _ in MmapedDict.read_all_values_from_file(str(path)))
        ]
        assert len(busy) == 1, busy
        victim = int(busy[0].stem.rsplit("_", 1)[1])
        workers = worker_pids(server.process.pid)
        assert victim in workers

        os.kill(victim, signal.SIGKILL)
        thread.join(30)
        assert outcome == ["connection broken"]

        # gunicorn's master reaps it, marks it dead and starts a new worker.
        def respawned() -> bool:
            now = worker_pids(server.process.pid)
            return victim not in now and len(now) == 2 and booted(tmp_path / "metrics") == now

        assert wait_until(respawned, timeout=20)
        assert not busy[0].exists()
        after = scrape(server.metrics_url)
        assert in_flight(after) == 0
        for key, old in before.items():
            if key[0].endswith(("_total", "_count", "_bucket", "_sum")):
                assert after.get(key, 0.0) >= old, key
        # The new worker serves, and its requests add to the dead one's.
        assert requests.get(server.url + "/", timeout=5).status_code == 200
        assert wait_until(lambda: requests_of(scrape(server.metrics_url), "/") >= 21, timeout=5)
        assert requests_of(scrape(server.metrics_url), "/") == 21
