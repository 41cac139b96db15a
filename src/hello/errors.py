"""Every error a client sees is JSON ``{"error": ..., "status": ...}``, never HTML."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import BadRequest, HTTPException

__all__ = ["BadRequest", "init_app"]

log = logging.getLogger("hello")


def _http_error(exc: HTTPException) -> Response:
    # get_response keeps the headers werkzeug set, such as Allow on a 405.
    response = exc.get_response()
    response.set_data(jsonify(error=exc.description or exc.name, status=exc.code).get_data())
    response.content_type = "application/json"
    return response


def _server_error(exc: Exception) -> tuple[Response, int]:
    # The traceback goes to the log, never to the client.
    log.exception("unhandled exception", exc_info=exc)
    return jsonify(error="internal server error", status=500), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)
