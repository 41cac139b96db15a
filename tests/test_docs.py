"""The commands of README.md and docs/atelier/ are tested, so the docs cannot drift from the code.

Every shell block (```sh, ```bash, ```shell, ```console) must be preceded by a marker:

    <!-- docs-test: run -->                 run it here, in the repository, against a real
                                            gunicorn started by the test (the documented
                                            http://127.0.0.1:8000 and 127.0.0.1:8080 are
                                            replaced by that server's loopback ports)
    <!-- docs-test: run copy -->            run it in a copy of the work tree, one copy per
                                            page, blocks in page order (for commands that
                                            edit files, such as changing the greeting)
    <!-- docs-test: skip reason="..." -->   cannot run here (GKE, kind, a registry, a load
                                            that belongs to a benchmark...): the reason is
                                            mandatory

A run marker may add ``exit=N`` (the expected exit code, default 0) and
``expect="text"`` (stdout must contain it). In a ```console block, the lines that
start with ``$ `` are the commands; the other lines are example output.

Every block, run or skipped, is also checked statically: each ``make TARGET`` must
be a target of the Makefile, each repository path must exist, and each URL path
on the service must be a route of the app (on the metrics port: ``/metrics``).
A block without a marker fails the test, so a new command is either tested or
explicitly excused.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from servers import GUNICORN, free_port, gunicorn, require_tool, wait_until
from werkzeug.exceptions import MethodNotAllowed, NotFound

from hello import create_app
from hello.config import Settings

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<body>.*?)\s*-->")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+)(?P<lang>[\w-]*)\s*$")
RUN_TIMEOUT = 120  # seconds for one block; the slowest is a pytest run in a fresh copy

# The service as the docs call it, and the metrics port.
DOC_URL = "http://127.0.0.1:8000"
DOC_METRICS = "127.0.0.1:8080"


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    marker: dict[str, str] | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def mode(self) -> str | None:
        if self.marker is None:
            return None
        return self.marker.get("mode")

    def script(self) -> str:
        """The commands of the block (for console: the `$ ` lines and their continuations)."""
        if self.lang != "console":
            return self.text
        commands: list[str] = []
        continuing = False
        for line in self.text.splitlines():
            if line.startswith("$ "):
                commands.append(line[2:])
                continuing = line.endswith("\\")
            elif continuing:
                commands.append(line)
                continuing = line.endswith("\\")
        return "\n".join(commands) + "\n"


def parse_marker(body: str) -> dict[str, str]:
    """``run copy exit=1 expect="x"`` -> {"mode": "run", "copy": "", "exit": "1", ...}."""
    words = shlex.split(body)
    if not words or words[0] not in {"run", "skip"}:
        raise ValueError(f"a docs-test marker starts with run or skip, got {body!r}")
    marker = {"mode": words[0]}
    for word in words[1:]:
        key, _, value = word.partition("=")
        if key not in {"copy", "exit", "expect", "reason"}:
            raise ValueError(f"unknown docs-test option {key!r} in {body!r}")
        marker[key] = value
    return marker


def parse_blocks(page: Path) -> list[Block]:
    """The fenced shell blocks of a page, each with the marker just above it (if any)."""
    lines = page.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening or not opening["lang"]:
            if opening:  # an untyped block: skip to its end
                i = _closing(lines, i, opening["fence"])
            i += 1
            continue
        end = _closing(lines, i, opening["fence"])
        if opening["lang"] in SHELL_LANGUAGES:
            indent = len(opening["indent"])
            body = "\n".join(line[indent:] for line in lines[i + 1 : end]) + "\n"
            blocks.append(Block(page, i + 1, opening["lang"], body, _marker_above(lines, i)))
        i = end + 1
    return blocks


def _closing(lines: list[str], start: int, fence: str) -> int:
    for j in range(start + 1, len(lines)):
        if lines[j].strip() == fence:
            return j
    raise AssertionError(f"unclosed code fence at line {start + 1}")


def _marker_above(lines: list[str], index: int) -> dict[str, str] | None:
    j = index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    found = MARKER.search(lines[j]) if j >= 0 else None
    return parse_marker(found["body"]) if found else None


ALL_BLOCKS = [block for page in PAGES for block in parse_blocks(page)]


def _ids(blocks: list[Block]) -> list[str]:
    return [block.where for block in blocks]


# --- markers ----------------------------------------------------------------


def test_docs_exist_and_have_shell_blocks() -> None:
    """The guide has its chapters, and the pages hold commands to test."""
    chapters = sorted(p.name for p in (ROOT / "docs" / "atelier").glob("0*.md"))
    assert [name[:2] for name in chapters] == [f"{n:02d}" for n in range(8)], chapters
    assert (ROOT / "docs" / "atelier" / "README.md").is_file()
    assert len(ALL_BLOCKS) >= 30


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=_ids(ALL_BLOCKS))
def test_block_has_a_marker(block: Block) -> None:
    """Every shell block is either run here or skipped for a stated reason."""
    assert block.marker is not None, f"{block.where}: shell block without <!-- docs-test: ... -->"
    if block.mode == "skip":
        assert block.marker.get("reason", "").strip(), f'{block.where}: skip needs reason="..."'
        assert "copy" not in block.marker
        assert "exit" not in block.marker


# --- static checks: every block ----------------------------------------------

# `make TARGET` where a command starts (a line, after ; && || | ( $( or `), maybe after
# VAR=value assignments; not `apt-get install make curl`.
MAKE_TARGET = re.compile(
    r"(?:^|[;&|(`])\s*(?:[A-Z_]+=\S*\s+)*make(?:\s+-\S+)*(?:\s+[A-Z_]+=\S*)*"
    r"\s+(?P<target>[a-z][a-z0-9_-]*)",
    re.M,
)
REPO_PATH = re.compile(
    r"(?<![\w./$-])(?:\./)?(?P<path>(?:src|tests|docs|deploy|e2e|scripts|monitoring|docker|bench"
    r"|\.circleci|\.github|\.ci)/[\w.*/-]*[\w*]"
    r"|(?:Makefile|Dockerfile|compose\.yaml|pyproject\.toml|uv\.lock)(?![\w.]))"
)
SERVICE_URL = re.compile(
    r"(?:https?://(?P<host>[\w.-]+|\[[\d:]+\])(?::(?P<port>\d+))?"
    r"|\$\{?(?P<var>[A-Z_]*(?:URL|IP|HOST|ADDR)[A-Z_]*)\}?(?::(?P<varport>\d+))?)"
    r"(?P<path>/[^\s\"'`)]*)?"
)
# Hosts that are not the service (clones, downloads, other tools' UIs).
FOREIGN_HOSTS = {"github.com", "astral.sh", "kind.sigs.k8s.io", "console.cloud.google.com"}
# Ports of other tools the docs open in a browser: Prometheus, Grafana.
FOREIGN_PORTS = {"9090", "3000"}


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-zA-Z_][\w-]*):", text, re.M))


def _without_comments(script: str) -> str:
    return "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=_ids(ALL_BLOCKS))
def test_block_make_targets_exist(block: Block) -> None:
    """Each `make TARGET` the docs give is a target of the Makefile."""
    targets = makefile_targets()
    used = {m["target"] for m in MAKE_TARGET.finditer(_without_comments(block.script()))}
    missing = used - targets
    assert not missing, f"{block.where}: make targets not in the Makefile: {sorted(missing)}"


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=_ids(ALL_BLOCKS))
def test_block_paths_exist(block: Block) -> None:
    """Each repository path the docs give exists (globs match at least one file)."""
    missing = []
    for match in REPO_PATH.finditer(block.text):
        path = match["path"].rstrip(".")
        if not list(ROOT.glob(path)):
            missing.append(path)
    assert not missing, f"{block.where}: paths that do not exist: {missing}"


def app_routes_match(path: str) -> bool:
    adapter = create_app({"faults": True}).url_map.bind("localhost")
    try:
        adapter.match(path.split("?")[0], method="GET")
    except MethodNotAllowed:
        return True
    except NotFound:
        return False
    return True


def service_paths(text: str) -> list[tuple[str, str]]:
    """(port, path) of every URL of the service in a text."""
    found = []
    for m in SERVICE_URL.finditer(text):
        if m["host"] in FOREIGN_HOSTS:
            continue
        port = m["port"] or m["varport"] or ""
        if port in FOREIGN_PORTS:
            continue
        path = (m["path"] or "/").rstrip(".,;:")
        # A placeholder such as /delay/<s> stands for a value: try a valid one.
        path = re.sub(r"<[^>]*>", "1", path) or "/"
        found.append((port, path))
    return found


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=_ids(ALL_BLOCKS))
def test_block_endpoints_exist(block: Block) -> None:
    """Each URL path called on the service is a route of the app (/metrics on 8080)."""
    wrong = []
    for port, path in service_paths(block.script()):
        ok = path in {"/", "/metrics"} if port == "8080" else app_routes_match(path)
        if not ok:
            wrong.append(f":{port}{path}")
    assert not wrong, f"{block.where}: not routes of the app: {wrong}"


def test_static_checks_catch_drift() -> None:
    """The static checks are not vacuous: a renamed target, file or route is caught."""
    block = Block(
        ROOT / "README.md",
        1,
        "sh",
        "make deploy-all NAME=x\ncat deploy/overlays/minikube/kustomization.yaml\n"
        "curl http://127.0.0.1:8000/healthcheck\n",
        {"mode": "skip", "reason": "test"},
    )
    with pytest.raises(AssertionError, match="deploy-all"):
        test_block_make_targets_exist(block)
    with pytest.raises(AssertionError, match="minikube"):
        test_block_paths_exist(block)
    with pytest.raises(AssertionError, match="/healthcheck"):
        test_block_endpoints_exist(block)


# --- static checks: the prose around the blocks -------------------------------

INLINE_CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
LOCAL_URL = re.compile(
    r"(?:https?://(?:127\.0\.0\.1|localhost):(?P<port>\d+)"
    r"|\$\{?[A-Z_]*(?:URL|IP|HOST)[A-Z_]*\}?(?::\d+)?)(?P<path>/[^\s\"'`)>]*)?"
)


def _rel(page: Path) -> str:
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)


def _prose(page: Path) -> str:
    """The page without its fenced blocks."""
    return re.sub(r"^\s*```.*?^\s*```\s*$", "", page.read_text(), flags=re.M | re.S)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_prose_make_targets_and_paths_exist(page: Path) -> None:
    """`make TARGET` and repository paths quoted in the text exist too."""
    targets = makefile_targets()
    wrong = []
    for code in INLINE_CODE.findall(_prose(page)):
        wrong += [
            f"make {m['target']}" for m in MAKE_TARGET.finditer(code) if m["target"] not in targets
        ]
        wrong += [m["path"] for m in REPO_PATH.finditer(code) if not list(ROOT.glob(m["path"]))]
    assert not wrong, f"{_rel(page)}: {wrong}"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_prose_links_and_local_urls_exist(page: Path) -> None:
    """Relative links point at files; local URLs of the service are routes of the app."""
    text = _prose(page)
    wrong = []
    for link in LINK.finditer(text):
        target = link["target"].split("#")[0]
        if target and not re.match(r"[a-z]+:", target) and not (page.parent / target).exists():
            wrong.append(target)
    for url in LOCAL_URL.finditer(text):
        port, path = url["port"] or "", (url["path"] or "/").rstrip(".,;:")
        path = re.sub(r"<[^>]*>", "1", path)
        if port in FOREIGN_PORTS:
            continue
        ok = path in {"/", "/metrics"} if port == "8080" else app_routes_match(path)
        if not ok:
            wrong.append(url.group(0))
    assert not wrong, f"{_rel(page)}: {wrong}"


def test_prose_checks_catch_drift(tmp_path: Path) -> None:
    """A renamed target, a moved file, a dead link or a removed route in the text is caught."""
    page = tmp_path / "page.md"
    page.write_text("Run `make deploy-all`, read `deploy/old/kustomization.yaml`.\n")
    with pytest.raises(AssertionError, match=r"make deploy-all.*deploy/old"):
        test_prose_make_targets_and_paths_exist(page)
    page.write_text("See [the guide](nowhere.md) and http://127.0.0.1:8000/hello.\n")
    with pytest.raises(AssertionError, match=r"nowhere\.md.*/hello"):
        test_prose_links_and_local_urls_exist(page)


# --- running the runnable blocks ----------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """One real gunicorn (2 workers) serving the docs' curl examples."""
    with gunicorn(tmp_path_factory.mktemp("docs-gunicorn"), env={"HELLO_COMMIT": "d0c5"}) as s:
        yield s


def run_script(
    script: str, cwd: Path, server_url: str, metrics_url: str
) -> subprocess.CompletedProcess:
    script = script.replace(DOC_URL, server_url).replace(
        DOC_METRICS, metrics_url.removeprefix("http://")
    )
    env = {
        k: v
        for k, v in os.environ.items()
        # Not the coverage of this run: a pytest in a copy would write its data here.
        if not k.startswith(("HELLO_", "VIRTUAL_ENV", "PYTEST_", "COV_CORE_", "COVERAGE_"))
    }
    # -e: a failing command fails the block. No pipefail, as in the student's shell:
    # `cmd | head -1` may kill cmd with SIGPIPE, which is fine.
    return subprocess.run(
        ["bash", "-eu", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def check_result(block: Block, result: subprocess.CompletedProcess) -> None:
    expected_exit = int(block.marker.get("exit", "0"))  # type: ignore[union-attr]
    output = f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    assert result.returncode == expected_exit, (
        f"{block.where}: exit {result.returncode}, expected {expected_exit}\n{output}"
    )
    expect = block.marker.get("expect")  # type: ignore[union-attr]
    if expect:
        assert expect in result.stdout, f"{block.where}: {expect!r} not in stdout\n{output}"


TOOLS = ("curl", "docker", "git", "kubectl", "make", "uv", "wrk")


def tools_needed(script: str) -> list[str]:
    """The system tools a script runs (at a command's start), so a missing one is named."""
    needed = [
        tool
        for tool in TOOLS
        if re.search(rf"(?:^|[;&|(`]|\$\()\s*(?:[A-Z_]+=\S*\s+)*{tool}\b", script, re.M)
    ]
    if "make deploy" in script:
        needed.append("kubectl")  # deploy.sh renders with kubectl kustomize
    return needed


IN_PLACE = [b for b in ALL_BLOCKS if b.mode == "run" and "copy" not in b.marker]  # type: ignore[operator]
PAGES_WITH_COPY = sorted(
    {b.page for b in ALL_BLOCKS if b.mode == "run" and "copy" in b.marker}  # type: ignore[operator]
)


@pytest.mark.integration
@pytest.mark.parametrize("block", IN_PLACE, ids=_ids(IN_PLACE))
def test_run_block(block: Block, server) -> None:
    """The block runs here as written (service URLs point at a real gunicorn)."""
    for tool in tools_needed(block.script()):
        require_tool(tool)  # skip without it, fail in CI (HELLO_REQUIRE_ALL=1)
    result = run_script(block.script(), ROOT, server.url, server.metrics_url)
    check_result(block, result)


def _work_tree_copy(dest: Path) -> Path:
    """The tracked and untracked (not ignored) files of the work tree, as they are now."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listing):
        source = ROOT / raw.decode()
        if source.is_file():
            target = dest / raw.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


@pytest.mark.integration
@pytest.mark.parametrize(
    "page", PAGES_WITH_COPY, ids=[str(p.relative_to(ROOT)) for p in PAGES_WITH_COPY]
)
def test_run_copy_blocks(page: Path, tmp_path: Path, server) -> None:
    """The page's editing steps, run in order in a copy of the work tree, do what it says."""
    require_tool("uv")
    copy = _work_tree_copy(tmp_path / "hello")
    try:
        for block in parse_blocks(page):
            if block.mode == "run" and "copy" in block.marker:  # type: ignore[operator]
                result = run_script(block.script(), copy, server.url, server.metrics_url)
                check_result(block, result)
    finally:
        # uv made a virtualenv there (~200 MB): do not keep it with pytest's tmp dirs.
        shutil.rmtree(copy / ".venv", ignore_errors=True)


# --- the README's tables against the code ---------------------------------------


def _readme() -> str:
    return (ROOT / "README.md").read_text()


def _section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\b.*?(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no '## {title}' section"
    return match.group(0)


def test_readme_endpoint_table_lists_every_route() -> None:
    """The README's endpoint table and the app's routes are the same set."""
    section = _section(_readme(), "Endpoints")
    documented = set(re.findall(r"^\|\s*`(?:GET )?(?::8080)?(/[^`]*)`", section, re.M))
    app = create_app({"faults": True})
    routes = {r.rule for r in app.url_map.iter_rules() if r.endpoint != "static"}
    assert routes <= documented, f"routes missing from the table: {routes - documented}"
    assert documented - routes == {"/metrics"}, f"not routes: {documented - routes - {'/metrics'}}"


def test_readme_settings_table_lists_every_setting() -> None:
    """Each HELLO_* setting of hello.config is in the README's configuration table."""
    section = _section(_readme(), "Configuration")
    documented = set(re.findall(r"`(HELLO_[A-Z_]+)`", section))
    fields = {f"HELLO_{name.upper()}" for name in Settings.model_fields}
    assert fields <= documented, f"settings missing from the README: {fields - documented}"


def test_every_hello_variable_in_docs_exists() -> None:
    """No page names a HELLO_* variable that neither the app, the image nor compose reads."""
    known = {f"HELLO_{name.upper()}" for name in Settings.model_fields}
    # The image's own variables, and compose.yaml's (HELLO_PORT...).
    image_files = [ROOT / "Dockerfile", ROOT / "compose.yaml", *(ROOT / "docker").glob("*.py")]
    for path in image_files:
        if path.is_file():
            known |= set(re.findall(r"HELLO_[A-Z_]+", path.read_text()))
    unknown = {}
    for page in PAGES:
        for name in set(re.findall(r"HELLO_[A-Z_]+[A-Z]", page.read_text())):
            if name not in known and name != "HELLO_REQUIRE_ALL":
                unknown.setdefault(str(page.relative_to(ROOT)), []).append(name)
    assert not unknown, f"unknown variables: {unknown}"


PROOF = re.compile(r"`(?P<file>(?:tests|docker/tests|e2e|bench)/[\w/]+\.py)(?:::(?P<test>\w+))?`")


def test_readme_proofs_exist() -> None:
    """Each test or benchmark the README cites as a proof exists (file, and test function)."""
    proofs = list(PROOF.finditer(_section(_readme(), "What it proves")))
    assert len(proofs) >= 10
    missing = []
    for proof in proofs:
        path = ROOT / proof["file"]
        if not path.is_file():
            missing.append(proof["file"])
        elif proof["test"] and not re.search(rf"^\s*def {proof['test']}\(", path.read_text(), re.M):
            missing.append(f"{proof['file']}::{proof['test']}")
    assert not missing, f"README cites proofs that do not exist: {missing}"


# --- scripts/watch_version.py against real gunicorn ----------------------------------

WATCH = [sys.executable, str(ROOT / "scripts" / "watch_version.py")]


@pytest.mark.integration
def test_watch_version_prints_commit_and_pod(server) -> None:
    """Each line shows version, commit and pod; the summary counts them; exit 0."""
    result = subprocess.run(
        [*WATCH, server.url, "--count", "5", "--interval", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if "commit=" in line]
    assert len(lines) == 5
    assert all("  200  version=1.0.0  commit=d0c5  pod=" in line for line in lines)
    assert "5 requests: 5 answered, 0 failed" in result.stdout
    assert "commit d0c5: 5 answers" in result.stdout


@contextmanager
def _gunicorn_on(port: int, commit: str, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """The real gunicorn of `make run` (1 worker) on a given loopback port."""
    tmp_path.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HELLO_")},
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "HELLO_BIND": f"127.0.0.1:{port}",
        "HELLO_METRICS_BIND": f"127.0.0.1:{free_port()}",
        "HELLO_WORKERS": "1",
        "HELLO_COMMIT": commit,
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(GUNICORN, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/readyz"
        assert wait_until(lambda: requests.get(url, timeout=1).ok), "gunicorn not ready"
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(30)
        log.close()


@pytest.mark.integration
def test_watch_version_sees_the_switch_and_the_gap(tmp_path: Path) -> None:
    """Old build, a gap with no server, then a new build on the same port.

    The watcher prints the failures, the change of commit, counts both builds,
    and exits 1 because requests failed: an outage cannot go unnoticed.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with _gunicorn_on(port, "aaaa", tmp_path / "old"):
        watcher = subprocess.Popen(
            [*WATCH, url, "--count", "400", "--interval", "0.02", "--timeout", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        first = watcher.stdout.readline()  # type: ignore[union-attr]
        assert "commit=aaaa" in first, first
    # The old server is gone (SIGTERM, waited for): the watcher now fails.
    try:
        with _gunicorn_on(port, "bbbb", tmp_path / "new"):
            assert wait_until(lambda: watcher.poll() is not None, timeout=60)
        output = first + watcher.stdout.read()  # type: ignore[union-attr]
    finally:
        if watcher.poll() is None:
            watcher.kill()
        watcher.wait(10)
        watcher.stdout.close()  # type: ignore[union-attr]
    assert watcher.returncode == 1, output
    assert "FAILED" in output
    assert "--- commit changed: aaaa -> bbbb" in output
    assert "commit aaaa:" in output
    assert "commit bbbb:" in output
    assert re.search(r"400 requests: \d+ answered, [1-9]\d* failed", output), output


def test_watch_version_refuses_unbounded_or_bad_arguments() -> None:
    """The loop is bounded and the URL must be http(s): bad arguments exit 2 with a message."""
    for args in (["ftp://x"], ["http://127.0.0.1:1", "--count", "0"]):
        result = subprocess.run([*WATCH, *args], capture_output=True, text=True, timeout=10)
        assert result.returncode == 2
        assert "error:" in result.stderr


def test_readme_layout_lists_every_top_level_folder() -> None:
    """The README's layout names each top-level folder of the repository, and only those."""
    section = _section(_readme(), "Layout")
    named = set(re.findall(r"(?:^|\s)(\.?[\w-]+)/", section))
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    folders = {path.split("/")[0] for path in tracked if "/" in path}
    assert named == folders, f"missing: {folders - named}, not folders: {named - folders}"


def test_workshop_fits_in_four_hours() -> None:
    """Each chapter states its time; the plan's table repeats them; the total is <= 4 h."""
    atelier = ROOT / "docs" / "atelier"
    plan = (atelier / "README.md").read_text()
    total = 0
    for chapter in sorted(atelier.glob("0*.md")):
        stated = re.search(r"^\*\*Durée : (\d+) minutes\.\*\*$", chapter.read_text(), re.M)
        assert stated, f"{chapter.name}: no '**Durée : N minutes.**' line"
        minutes = int(stated[1])
        row = re.search(
            rf"\[{chapter.name[:2]}\]\({re.escape(chapter.name)}\).*\| (\d+) min \|", plan
        )
        assert row, f"the plan has no row linking {chapter.name}"
        assert int(row[1]) == minutes, f"{chapter.name}: {minutes} min, the plan says {row[1]}"
        total += minutes
    hours, rest = divmod(total, 60)
    assert f"**{hours} h {rest:02d}**" in plan, f"the plan's total is not {hours} h {rest:02d}"
    assert total <= 240


CHAPTER_SECTIONS = ("Objectif", "Commandes", "Ce que vous devez voir", "Pourquoi", "Dépannage")


@pytest.mark.parametrize(
    "chapter",
    sorted((ROOT / "docs" / "atelier").glob("0*.md")),
    ids=lambda p: p.name,
)
def test_chapter_has_every_part(chapter: Path) -> None:
    """Goal, commands, what to see, why, and a troubleshooting box with two mistakes."""
    text = chapter.read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    missing = [s for s in CHAPTER_SECTIONS if s not in headings]
    assert not missing, f"{chapter.name}: sections missing: {missing}"
    troubleshooting = _section(text, "Dépannage")
    mistakes = re.findall(r"^> \*\*\S.*\*\*", troubleshooting, re.M)
    assert len(mistakes) >= 2, f"{chapter.name}: the Dépannage box names {len(mistakes)} mistakes"
