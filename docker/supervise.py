"""PID 1 of the hello image: start gunicorn then nginx, stop nginx then gunicorn.

Why a small Python script rather than supervisord or tini + a shell script:
python3 is in the image anyway, and the lifecycle we need is not "keep
processes running" (supervisord restarts children; here the orchestrator must
restart the whole container) but an ordered start, an ordered graceful stop and
a prompt exit when either server dies. A shell cannot wait for "a signal or
whichever child exits first" reliably; this script does it with one loop on
``sigtimedwait``, and, as PID 1, it also reaps the orphans re-parented to it.

Start:  drain file "starting" (/readyz 503) -> gunicorn -> its socket answers
        -> nginx -> port 8000 answers -> drain file removed (/readyz 200).
Stop:   (SIGTERM or SIGINT) drain file "draining" (/readyz 503 at once)
        -> nginx SIGQUIT (graceful: finishes the requests in flight) -> wait
        -> gunicorn SIGTERM (graceful for gunicorn) -> wait -> exit 0, all
        within HELLO_DRAIN_SECONDS (default 40). A server that overstays is
        forced (nginx SIGTERM, then SIGKILL) and the exit code is then 1.
Crash:  nginx or gunicorn exits on its own -> the other is stopped -> exit 1.

Every step is logged as one JSON line on stdout. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

# The container's own /tmp (a volume, an emptyDir in Kubernetes): nobody else writes there.
TMP = Path("/tmp")  # noqa: S108
NGINX_CONF = "/etc/hello/nginx.conf"
NGINX_PORT = 8000
NGINX_DIRS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")
# gunicorn >= 25 opens a control socket under $HOME by default: not wanted here
# (no home, read-only root, one less way in).
GUNICORN = (
    "gunicorn",
    "-c",
    "python:hello.gunicorn_conf",
    "--no-control-socket",
    "hello:create_app()",
)
# Time kept for gunicorn at the end of the drain budget, whatever nginx took.
GUNICORN_RESERVE = 5.0
# After a crash of one server, how long the other gets before the container exits.
CRASH_GRACE = 3.0

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
WATCHED = {*STOP_SIGNALS, signal.SIGCHLD}


def log(message: str, level: str = "INFO", **fields: object) -> None:
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "level": level,
        "logger": "hello.supervisor",
        "message": message,
        **fields,
    }
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        sys.exit(f"hello: {name}={raw!r} is invalid; accepted: a number of seconds, 1 to 3600")
    return value


class Stop(Exception):
    """A stop signal arrived."""


class Crash(Exception):
    """One of our servers exited on its own."""


class Supervisor:
    def __init__(self) -> None:
        bind = os.environ.get("HELLO_BIND", f"unix:{TMP}/hello/gunicorn.sock")
        if not bind.startswith("unix:"):
            sys.exit(f"hello: HELLO_BIND={bind!r} is invalid here; accepted: unix:PATH")
        self.socket_path = bind.removeprefix("unix:")
        self.drain_file = Path(os.environ.get("HELLO_DRAIN_FILE", TMP / "hello/draining"))
        self.metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.drain_seconds = env_seconds("HELLO_DRAIN_SECONDS", 40)
        self.start_seconds = env_seconds("HELLO_START_SECONDS", 60)
        self.children: dict[str, int] = {}  # name -> pid, while running
        self.status: dict[str, int] = {}  # name -> wait status, once exited
        self.forced = False

    # -- processes ---------------------------------------------------------

    def spawn(self, name: str, argv: list[str]) -> None:
        path = argv[0] if "/" in argv[0] else _which(argv[0])
        # The children get a clean signal state: nothing blocked (we block the
        # watched signals for sigtimedwait), SIGPIPE back to default.
        pid = os.posix_spawn(
            path,
            argv,
            os.environ,
            setsigmask=(),
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
        self.children[name] = pid
        log(f"started {name}", process=name, pid=pid)

    def reap(self) -> None:
        """Collect every exited child: ours are recorded, orphans just vanish."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for name, child in list(self.children.items()):
                if child == pid:
                    del self.children[name]
                    self.status[name] = status

    def signal(self, name: str, sig: signal.Signals) -> None:
        pid = self.children.get(name)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def wait(self, timeout: float, *, stop_on_signal: bool, crash_check: bool) -> None:
        """Sleep up to ``timeout`` seconds, handling the signals that arrive meanwhile."""
        info = signal.sigtimedwait(WATCHED, max(timeout, 0))
        if info is None:
            return
        if info.si_signo == signal.SIGCHLD:
            self.reap()
            if crash_check:
                self.check_alive()
        elif stop_on_signal:
            raise Stop(signal.Signals(info.si_signo).name)
        else:
            log("already stopping; signal ignored", signal=signal.Signals(info.si_signo).name)

    def check_alive(self) -> None:
        for name, status in self.status.items():
            raise Crash(name, describe(status))

    def wait_exit(self, name: str, deadline: float) -> bool:
        while name in self.children:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.wait(min(remaining, 1.0), stop_on_signal=False, crash_check=False)
        return True

    # -- probes ------------------------------------------------------------

    def wait_until(self, what: str, probe: object) -> None:
        deadline = time.monotonic() + self.start_seconds
        while not probe():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise Crash(what, f"did not answer within {self.start_seconds:g} s")
            self.wait(0.05, stop_on_signal=True, crash_check=True)

    def gunicorn_answers(self) -> bool:
        return _http_ok(socket.AF_UNIX, self.socket_path)

    @staticmethod
    def nginx_answers() -> bool:
        return _http_ok(socket.AF_INET, ("127.0.0.1", NGINX_PORT))

    # -- lifecycle ---------------------------------------------------------

    def prepare(self) -> None:
        self.drain_file.parent.mkdir(parents=True, exist_ok=True)
        self.drain_file.write_text("starting\n")
        Path(self.socket_path).parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            Path(self.socket_path).unlink()  # left by a previous run in the same /tmp
        if self.metrics_dir:
            Path(self.metrics_dir).mkdir(parents=True, exist_ok=True)
        for sub in NGINX_DIRS:
            (TMP / "nginx" / sub).mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        self.prepare()
        log("starting", drain_file=str(self.drain_file), drain_seconds=self.drain_seconds)
        self.spawn("gunicorn", list(GUNICORN))
        self.wait_until("gunicorn", self.gunicorn_answers)
        log("gunicorn answers", socket=self.socket_path)
        self.spawn("nginx", ["nginx", "-c", NGINX_CONF, "-e", "stderr", "-g", "daemon off;"])
        self.wait_until("nginx", self.nginx_answers)
        log("nginx answers", port=NGINX_PORT)
        self.drain_file.unlink()
        log("ready: /readyz answers 200")

    def serve(self) -> None:
        while True:
            self.wait(3600, stop_on_signal=True, crash_check=True)

    def stop(self, reason: str) -> int:
        started = time.monotonic()
        deadline = started + self.drain_seconds
        with contextlib.suppress(OSError):
            self.drain_file.write_text("draining\n")
        log("draining: /readyz answers 503", signal=reason, budget_s=self.drain_seconds)
        self.stop_one("nginx", signal.SIGQUIT, deadline - GUNICORN_RESERVE)
        self.stop_one("gunicorn", signal.SIGTERM, deadline)
        elapsed = round(time.monotonic() - started, 3)
        if self.forced:
            log("stopped, but not gracefully", level="ERROR", elapsed_s=elapsed)
            return 1
        log("stopped", elapsed_s=elapsed)
        return 0

    def stop_one(self, name: str, graceful: signal.Signals, deadline: float) -> None:
        if name not in self.children:
            return
        log(f"stopping {name}", process=name, signal=graceful.name)
        self.signal(name, graceful)
        if not self.wait_exit(name, deadline):
            self.forced = True
            log(f"{name} overstayed the drain budget", level="ERROR", process=name)
            # nginx: TERM is its fast stop; then, for either, KILL.
            if graceful != signal.SIGTERM:
                self.signal(name, signal.SIGTERM)
                self.wait_exit(name, time.monotonic() + 1)
            self.signal(name, signal.SIGKILL)
            self.wait_exit(name, time.monotonic() + 5)
        self.log_stopped(name, graceful)

    def log_stopped(self, name: str, sent: signal.Signals) -> None:
        status = self.status.get(name)
        text = describe(status) if status is not None else "unknown"
        # Killed by the very signal we sent: it came before the server installed its
        # handlers (a stop right at start), when it was not serving anything yet.
        code = os.waitstatus_to_exitcode(status) if status is not None else None
        if code not in (0, -sent):
            self.forced = True
        log(f"{name} stopped", process=name, status=text)

    def crashed(self, name: str, why: str) -> int:
        log(f"{name} exited: stopping the container", level="ERROR", process=name, status=why)
        deadline = time.monotonic() + CRASH_GRACE
        for other in list(self.children):
            self.signal(other, signal.SIGTERM)
        for other in list(self.children):
            if not self.wait_exit(other, deadline):
                self.signal(other, signal.SIGKILL)
        return 1


def describe(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"exit {code}" if code >= 0 else f"killed by {signal.Signals(-code).name}"


def _which(program: str) -> str:
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(directory, program)
        if os.access(candidate, os.X_OK):
            return candidate
    sys.exit(f"hello: {program} not found on PATH")


def _http_ok(family: socket.AddressFamily, address: object) -> bool:
    """True if GET /healthz at ``address`` answers 200 within a second."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(address)
            sock.sendall(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
            head = sock.recv(32)
    except OSError:
        return False
    return head.split(b" ", 2)[1:2] == [b"200"]


def main() -> int:
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    supervisor = Supervisor()
    try:
        supervisor.start()
        supervisor.serve()
    except Stop as stop:
        return supervisor.stop(str(stop))
    except Crash as crash:
        return supervisor.crashed(*crash.args)
    return 1  # serve() never returns


if __name__ == "__main__":
    sys.exit(main())
