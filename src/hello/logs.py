"""One JSON line per request on stdout, tied together by a request id."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is honoured only if it is short and plain, so it cannot forge
# log lines or bloat them; otherwise we make one.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access = logging.getLogger("hello.access")


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time (test capture swaps it)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure(level: str) -> None:
    """Send the ``hello`` loggers to stdout as JSON (idempotent)."""
    logger = logging.getLogger("hello")
    logger.setLevel(level)
    logger.propagate = False
    if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                datefmt="%Y-%m-%dT%H:%M:%S%z",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
        logger.addHandler(handler)


def _start() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.started = time.perf_counter()


def _finish(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.request_id
    return response


def _log(response: Response) -> Response:
    access.info(
        "request",
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - g.started) * 1000, 3),
            "request_id": g.request_id,
        },
    )
    return response


def init_app(app: Flask) -> None:
    settings = app.config["HELLO"]
    configure(settings.log_level)
    app.before_request(_start)
    app.after_request(_finish)
    if settings.access_log:
        app.after_request(_log)
