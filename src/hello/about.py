"""What this build and process are: shown by /version and the build-info metric."""

from __future__ import annotations

import platform
import socket
from datetime import UTC, datetime
from importlib.metadata import version as package_version

VERSION = package_version("hello")
PYTHON = platform.python_version()


def build_info(commit: str) -> dict[str, str]:
    """What /version answers; computed once, since none of it changes while running."""
    return {
        "version": VERSION,
        "commit": commit,
        "hostname": socket.gethostname(),  # the pod name in Kubernetes
        "python": PYTHON,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
