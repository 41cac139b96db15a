"""RED metrics for every request, with prometheus_client.

Under gunicorn the metrics live in prometheus_client's multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``, set before Python starts): each worker writes
its own files and gunicorn's master aggregates them on a separate port (see
:mod:`hello.metrics_server`), so a scrape counts every worker's requests.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Gauge, Histogram

from hello.about import PYTHON, VERSION

# A hello answers in about a millisecond; /delay goes up to the configured maximum.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Requests that match no route share one label value: one series, whatever the URL.
UNMATCHED = "<unmatched>"
# Clients may send any method name (servers answer 405); the label takes only these,
# any other method shares one value, so made-up methods cannot add series either.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
OTHER_METHOD = "<other>"

REQUESTS = Counter(
    "hello_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "hello_http_request_duration_seconds",
    "Time from the request reaching Flask to the response leaving it.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "hello_http_requests_in_flight",
    "Requests being served right now.",
    multiprocess_mode="livesum",  # only live workers count
)
BUILD_INFO = Gauge(
    "hello_build_info",
    "Always 1; its labels say which version and commit serve.",
    ["version", "commit", "python"],
    multiprocess_mode="max",  # one series per build, not one per worker
)


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def _start() -> None:
    g.metrics_started = time.perf_counter()
    IN_FLIGHT.inc()


def _method() -> str:
    method = request.method
    return method if method in METHODS else OTHER_METHOD


def _observe(response: Response) -> Response:
    route, method = _route(), _method()
    LATENCY.labels(method, route).observe(time.perf_counter() - g.metrics_started)
    REQUESTS.labels(method, route, str(response.status_code)).inc()
    return response


def _done(_exc: BaseException | None) -> None:
    # teardown runs even when a response could not be built, so the gauge never leaks.
    if "metrics_started" in g:
        IN_FLIGHT.dec()


def init_app(app: Flask) -> None:
    settings = app.config["HELLO"]
    if not settings.metrics:
        return
    BUILD_INFO.labels(VERSION, settings.commit, PYTHON).set(1)
    app.before_request(_start)
    app.after_request(_observe)
    app.teardown_request(_done)
