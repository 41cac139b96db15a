#!/usr/bin/env bash
# Audit the locked dependencies for known vulnerabilities (what `make audit` runs).
#
#   scripts/ci-audit.sh [REQUIREMENTS]
#
# Without an argument it exports every locked dependency of every group (the
# project itself excluded: it is not on PyPI) as a hash-pinned requirements file,
# then runs pip-audit on it, strictly: a dependency that cannot be audited fails.
#
# pip-audit asks PyPI's per-release JSON API (/pypi/NAME/VERSION/json). Some
# networks only let the per-project API through (/pypi/NAME/json); pip-audit then
# reports every dependency as "not found on PyPI". In that case only, this script
# audits again from the per-project API, whose `vulnerabilities` are those of the
# project's latest release: a locked version that is the latest is audited
# exactly; an older one cannot be, and fails the audit (upgrade it, or audit on a
# network that reaches the per-release API). It never passes what it could not check.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ $# -ge 1 ]; then
  requirements=$1
else
  requirements=$work/requirements.txt
  uv export --locked --all-groups --no-emit-project --format requirements-txt \
    --output-file "$requirements" --quiet
fi

status=0
uv run --locked --group audit pip-audit --strict --require-hashes --disable-pip \
  --progress-spinner off -r "$requirements" 2>"$work/stderr" || status=$?
cat "$work/stderr" >&2
[ "$status" -eq 0 ] && exit 0
grep -q 'could not be audited' "$work/stderr" || exit "$status"

echo "audit: pip-audit could not reach PyPI's per-release API; auditing from the per-project API" >&2
exec uv run --locked python - "$requirements" <<'PY'
"""Audit NAME==VERSION lines with PyPI's per-project JSON API (fails closed)."""

import json
import re
import sys
import urllib.error
import urllib.request

from packaging.utils import canonicalize_name
from packaging.version import Version

pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", open(sys.argv[1]).read(), re.M)
if not pins:
    sys.exit("audit: no NAME==VERSION pin found in " + sys.argv[1])
found, unaudited = [], []
for name, version in pins:
    url = f"https://pypi.org/pypi/{canonicalize_name(name)}/json"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (fixed https URL)
            project = json.load(response)
    except (urllib.error.URLError, ValueError) as error:
        unaudited.append(f"{name} {version}: {url}: {error}")
        continue
    latest = project["info"]["version"]
    if Version(latest) != Version(version):
        unaudited.append(f"{name} {version}: not the latest release ({latest})")
        continue
    for vuln in project.get("vulnerabilities") or []:
        if vuln.get("withdrawn"):
            continue
        fixed = ", ".join(vuln.get("fixed_in") or []) or "no fix yet"
        found.append(f"{name} {version}: {vuln['id']} (fixed in: {fixed}) {vuln.get('link', '')}")

audited = len(pins) - len(unaudited)
print(f"audit: {audited} of {len(pins)} pinned dependencies audited, {len(found)} known vulnerabilities")
for line in found:
    print("  VULNERABLE " + line)
for line in unaudited:
    print("  NOT AUDITED " + line)
sys.exit(1 if found or unaudited else 0)
PY
