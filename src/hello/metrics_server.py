"""The metrics port: ``/metrics`` for every worker at once, and nothing else.

It runs in a thread of gunicorn's master, which outlives its workers: a scrape
never depends on which worker is busy, and it aggregates the multiprocess files
of all workers, live and dead, so counters never go backwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.multiprocess import MultiProcessCollector

NOT_FOUND = b'{"error": "only /metrics answers on this port", "status": 404}\n'

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def only_metrics(metrics_app: WSGIApp) -> WSGIApp:
    """Answer 404 for any path but /metrics, so this port exposes nothing else."""

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/metrics":
            return metrics_app(environ, start_response)
        start_response(
            "404 Not Found",
            [("Content-Type", "application/json"), ("Content-Length", str(len(NOT_FOUND)))],
        )
        return [NOT_FOUND]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Scrapes every few seconds would drown the request log."""


def serve(bind: str, multiproc_dir: str) -> ThreadingWSGIServer:
    """Serve the aggregated metrics of ``multiproc_dir`` on ``bind`` (HOST:PORT) in a thread."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiproc_dir)
    host, _, port = bind.rpartition(":")
    server = make_server(
        host or "0.0.0.0",  # noqa: S104 - an empty host means all interfaces, as documented
        int(port),
        only_metrics(make_wsgi_app(registry)),
        ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
