"""gunicorn settings for hello: ``gunicorn -c python:hello.gunicorn_conf 'hello:create_app()'``.

Every value comes from the typed ``HELLO_*`` settings, so a bad one stops
gunicorn before it forks, with a message naming the variable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hello.config import ConfigError, load_settings, worker_count

try:
    _settings = load_settings()
except ConfigError as exc:
    sys.exit(f"hello: {exc}")

_multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _settings.metrics and not _multiproc_dir:
    # prometheus_client reads it when first imported: it must be set before Python starts.
    sys.exit(
        "hello: PROMETHEUS_MULTIPROC_DIR is not set; metrics need it with several workers "
        "(set it to an empty directory, or set HELLO_METRICS=off)"
    )

bind = [_settings.bind]
workers = worker_count(_settings)
worker_class = "sync"
# The heartbeat file of each worker: on tmpfs, so a slow or read-only disk never
# makes the master think a worker hung.
_SHM = Path("/dev/shm")  # noqa: S108 - gunicorn's documented place for heartbeats
worker_tmp_dir = str(_SHM) if _SHM.is_dir() else None
# A worker may legitimately spend max_delay seconds on /delay.
timeout = int(_settings.max_delay) + 30
# On SIGTERM, requests in flight get this long to finish (see docker/README.md).
graceful_timeout = int(_settings.max_delay) + 5
keepalive = 5
# The app writes its own JSON access log; gunicorn's own log goes to stderr.
accesslog = None
errorlog = "-"
loglevel = "info"
# Workers are never recycled without need: each recycle leaves multiprocess
# files behind (see monitoring/README.md).
max_requests = 0
# gunicorn 24+ would open a control socket under $HOME, which is read-only or
# absent in a container; nothing here uses it.
control_socket_disable = True


def on_starting(server: object) -> None:
    """Wipe the metrics of a previous run, before any worker writes new ones."""
    if _multiproc_dir:
        path = Path(_multiproc_dir)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()


def when_ready(server: object) -> None:
    if _settings.metrics and _multiproc_dir:
        from hello import metrics_server

        metrics_server.serve(_settings.metrics_bind, _multiproc_dir)


def child_exit(server: object, worker: object) -> None:
    """A dead worker's live gauges (in-flight) must stop counting."""
    if _multiproc_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
