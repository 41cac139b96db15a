"""The baseline app: plain Flask, with per-request metrics the way
prometheus_flask_exporter records them (a latency histogram by method, path and
status, a request counter by method and status), in multiprocess mode."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

app = Flask(__name__)

LATENCY = Histogram(
    "flask_http_request_duration_seconds",
    "Flask HTTP request duration in seconds",
    ["method", "path", "status"],
)
REQUESTS = Counter(
    "flask_http_request_total", "Total number of HTTP requests", ["method", "status"]
)


@app.before_request
def _start() -> None:
    g.started = time.perf_counter()


@app.after_request
def _record(response: Response) -> Response:
    status = str(response.status_code)
    LATENCY.labels(request.method, request.path, status).observe(time.perf_counter() - g.started)
    REQUESTS.labels(request.method, status).inc()
    return response


@app.get("/")
def index() -> Response:
    return Response("Hello, World!\n", mimetype="text/plain")


@app.get("/readyz")
def readyz() -> Response:
    return Response("ok\n", mimetype="text/plain")


@app.get("/metrics")
def metrics() -> Response:
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype="text/plain")
