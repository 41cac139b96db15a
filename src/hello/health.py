"""Liveness and readiness.

Readiness is shared by every worker and by the container's entrypoint through
one file (``HELLO_DRAIN_FILE``): while it exists, ``/readyz`` answers 503 with
the file's content as the reason ("starting", "draining"). The entrypoint
creates it before gunicorn starts, removes it once nginx and gunicorn both
serve, and creates it again on SIGTERM, so the orchestrator stops routing new
requests here while the requests in flight complete.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    # Liveness: answering at all is the proof that this process can serve.
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    drain_file = current_app.config["HELLO"].drain_file
    if drain_file is not None:
        try:
            reason = drain_file.read_text().strip() or "draining"
        except FileNotFoundError:
            pass
        else:
            return jsonify(status=reason), 503
    return jsonify(status="ready"), 200


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
