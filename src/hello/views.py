"""The endpoints a student sees and changes."""

from __future__ import annotations

import math
import re
import time
from http import HTTPStatus

from flask import Blueprint, Flask, Response, current_app, jsonify

from hello.about import build_info
from hello.errors import BadRequest

bp = Blueprint("hello", __name__)
faults = Blueprint("faults", __name__)

# Three digits, nothing else: int() would also take "+200", " 200" or "2_00".
STATUS_CODE = re.compile(r"[0-9]{3}")


@bp.get("/")
def index() -> Response:
    # Workshop, first exercise: change this greeting, run the tests, ship it.
    greeting = "Hello, World!"
    message = current_app.config["HELLO"].message or greeting
    return Response(message + "\n", mimetype="text/plain")


@bp.get("/version")
def version() -> Response:
    # Watch this during a rolling update: commit and hostname (the pod) change.
    return jsonify(current_app.config["HELLO_VERSION"])


@faults.get("/delay/<seconds>")
def delay(seconds: str) -> Response:
    limit = current_app.config["HELLO"].max_delay
    try:
        wait = float(seconds)
    except ValueError:
        raise BadRequest(f"delay must be a number of seconds, got {seconds!r}") from None
    if not (math.isfinite(wait) and 0 <= wait <= limit):
        raise BadRequest(f"delay must be between 0 and {limit:g} seconds, got {seconds!r}")
    time.sleep(wait)
    return jsonify(delay=wait)


@faults.get("/status/<code>")
def status(code: str) -> Response:
    if not STATUS_CODE.fullmatch(code) or not 200 <= int(code) <= 599:
        raise BadRequest(f"status must be an HTTP status code from 200 to 599, got {code!r}")
    value = int(code)
    if value in (204, 304):  # these statuses never carry a body
        return Response(status=value)
    try:
        phrase = HTTPStatus(value).phrase
    except ValueError:
        phrase = "Unassigned"
    response = jsonify(status=value, description=phrase)
    response.status_code = value
    return response


def init_app(app: Flask) -> None:
    settings = app.config["HELLO"]
    app.config["HELLO_VERSION"] = build_info(settings.commit)
    app.register_blueprint(bp)
    # The teaching endpoints can be left out of deployments that must not expose them.
    if settings.faults:
        app.register_blueprint(faults)
