"""nginx's limits, through the container's public port, with raw sockets.

One hardened container (read-only root, no capabilities, UID 10001) serves the
whole module: the limits are nginx's configuration, the same in both modes.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from containers import HARDENED, PREFIX, Container, docker, host_port


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[Container]:
    name = f"{PREFIX}{uuid.uuid4().hex[:10]}"
    docker("run", "--detach", "--name", name, "--publish", "127.0.0.1::8000", *HARDENED, image)
    try:
        c = Container(name, host_port(name, 8000))
        c.ip = docker(
            "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name
        ).stdout.strip()
        c.wait_ready()
        yield c
    finally:
        docker("rm", "--force", "--volumes", name, check=False)


def exchange(c: Container, raw: bytes, *, body: bytes = b"") -> tuple[int, bytes]:
    """Send a raw request (and a body, tolerating an early answer); status and body back."""
    with socket.create_connection(("127.0.0.1", c.port), timeout=10) as sock:
        sock.sendall(raw)
        try:
            for start in range(0, len(body), 65536):
                sock.sendall(body[start : start + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass  # nginx answered and closed before reading it all: that is the point
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    head, _, payload = data.partition(b"\r\n\r\n")
    assert head, "no answer"
    return int(head.split()[1]), payload


def test_body_over_the_limit_is_413(container: Container) -> None:
    """A declared 2 MiB body, and a chunked 1.5 MiB one, are refused with JSON 413."""
    status, payload = exchange(
        container,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\nConnection: close\r\n\r\n",
    )
    assert status == 413
    assert json.loads(payload)["status"] == 413

    big = b"x" * (1536 * 1024)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(big), big)
    status, _ = exchange(
        container,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        body=chunked,
    )
    assert status == 413


def test_body_under_the_limit_reaches_the_app(container: Container) -> None:
    """A 512 KiB body passes nginx: the app itself answers (405: / is GET only)."""
    body = b"x" * (512 * 1024)
    status, payload = exchange(
        container,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
        % len(body),
        body=body,
    )
    assert status == 405
    assert json.loads(payload)["status"] == 405


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # One header line longer than a large buffer (8 KiB).
        (b"X-Big: " + b"a" * 10000 + b"\r\n", {400, 431}),
        # Many reasonable lines, more than 4 x 8 KiB together.
        (b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 1000) for i in range(40)), {400, 431}),
    ],
    ids=["one-long-header", "too-many-headers"],
)
def test_oversized_headers_are_refused(container: Container, headers, expected) -> None:
    status, payload = exchange(
        container, b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"Connection: close\r\n\r\n"
    )
    assert status in expected
    assert json.loads(payload)["status"] == status


def test_request_line_too_long_is_414(container: Container) -> None:
    status, _ = exchange(
        container, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status == 414


def test_normal_headers_pass(container: Container) -> None:
    """A few kilobytes of ordinary headers (cookies...) are fine."""
    status, payload = exchange(
        container,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: " + b"c" * 4000 + b"\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert (status, json.loads(payload)) == (200, {"status": "ok"})


SLOW_CLIENTS = 20
ATTACK_SECONDS = 13.0  # longer than nginx's client_header_timeout (10 s)
NORMAL_SECONDS = 5.0


def test_slowloris_does_not_block_normal_requests(container: Container) -> None:
    """20 connections send their headers one byte every 0.2 s (bounded: 13 s, 65 bytes
    each). During the first 5 s normal requests are answered (without nginx, gunicorn's
    4 sync workers would each be held by a slow client); by the end nginx has closed
    every slow connection (client_header_timeout 10 s).
    """
    sockets = [
        socket.create_connection((container.ip, 8000), timeout=5) for _ in range(SLOW_CLIENTS)
    ]
    closed: set[int] = set()
    stop = threading.Event()
    sent = [0]
    trickle = b"GET /delay/0 HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200

    def slowloris() -> None:
        for byte in trickle:
            for index, sock in enumerate(sockets):
                if index in closed:
                    continue
                try:
                    sock.send(bytes([byte]))
                except OSError:
                    closed.add(index)
            sent[0] += 1
            if stop.wait(0.2):
                return

    attacker = threading.Thread(target=slowloris)
    started = time.monotonic()
    attacker.start()
    answers = []
    try:
        time.sleep(1)  # the slow clients are all mid-header now
        while time.monotonic() < started + NORMAL_SECONDS:
            answers.append(container.get("/", timeout=3).status_code)
            time.sleep(0.25)
        time.sleep(max(0.0, started + ATTACK_SECONDS - time.monotonic()))
        stop.set()
        attacker.join()
        for index, sock in enumerate(sockets):
            sock.settimeout(0.5)
            try:
                if sock.recv(1024) == b"":
                    closed.add(index)
            except ConnectionResetError:
                closed.add(index)
            except TimeoutError:
                pass  # still open
    finally:
        stop.set()
        attacker.join()
        for sock in sockets:
            sock.close()
    assert sent[0] >= 20, "the slow clients did not send"
    assert answers, "no normal request was made"
    assert set(answers) == {200}
    assert len(closed) == SLOW_CLIENTS, f"{SLOW_CLIENTS - len(closed)} slow clients still open"


def test_keepalive_time_closes_long_connections(container: Container) -> None:
    """A busy keep-alive connection is told "Connection: close" after keepalive_time
    (5 s), before Kubernetes' preStop (10 s) ends: clients move away in time."""
    conn = http.client.HTTPConnection(container.ip, 8000, timeout=5)
    answered = 0
    try:
        started = time.monotonic()
        while time.monotonic() - started < 9:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            answered += 1
            if response.getheader("Connection", "").lower() == "close":
                break
            time.sleep(0.25)
        else:
            pytest.fail(f"still kept alive after 9 s and {answered} requests")
    finally:
        conn.close()
    assert answered >= 10, "the connection was closed before keepalive_time"


def test_nginx_errors_are_json(container: Container) -> None:
    """A garbage request line gets nginx's JSON 400; its error pages are not reachable."""
    status, payload = exchange(container, b"GARBAGE\r\n\r\n")
    assert (status, json.loads(payload)) == (400, {"error": "bad request", "status": 400})
    status, payload = exchange(
        container, b"GET /_nginx/502 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert (status, json.loads(payload)["status"]) == (404, 404)
