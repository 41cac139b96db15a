#!/usr/bin/env python3
"""Watch /version through a URL (a Service) and print which build and pod answer.

    python3 scripts/watch_version.py http://EXTERNAL-IP:8000 [--count 300] [--interval 0.2]

One line per request: time, HTTP status, version, commit, pod (hostname). A line
says when the commit changes; at the end a summary counts the answers per commit
and the failures. The exit code is 1 if any request failed (no answer, or a
status other than 200), so "the service stayed available" is a fact you can check.

Standard library only (runs with any python3 >= 3.9), one new connection per
request (each goes through the Service's load balancing), and bounded: it stops
after --count requests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Print the version, commit and pod of each /version answer."
    )
    parser.add_argument("url", help="the service's base URL, e.g. http://34.1.2.3:8000")
    parser.add_argument(
        "--count", type=int, default=300, help="requests to send, then stop (default 300)"
    )
    parser.add_argument(
        "--interval", type=float, default=0.2, help="seconds between requests (default 0.2)"
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for one answer (default 5)"
    )
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://", "https://")):
        parser.error(f"the URL must start with http:// or https://, got {args.url!r}")
    if not 1 <= args.count <= 100_000:
        parser.error("--count must be between 1 and 100000")
    if args.interval < 0 or args.timeout <= 0:
        parser.error("--interval must be >= 0 and --timeout > 0")
    return args


def fetch(url: str, timeout: float) -> tuple[int, dict]:
    """GET url: its status and JSON body; raise OSError (or ValueError) on any failure."""
    request = urllib.request.Request(url, headers={"Connection": "close"})  # noqa: S310 - http(s) only, checked above
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return response.status, json.loads(response.read())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = args.url.rstrip("/") + "/version"
    per_commit: Counter[str] = Counter()
    failures = 0
    previous = None
    for _ in range(args.count):
        now = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        try:
            status, body = fetch(url, args.timeout)
        except urllib.error.HTTPError as exc:
            failures += 1
            print(f"{now}  {exc.code}  FAILED  {exc.reason}", flush=True)
        except (OSError, ValueError) as exc:
            failures += 1
            print(f"{now}  ---  FAILED  {exc}", flush=True)
        else:
            commit = str(body.get("commit", "?"))[:12]
            if previous is not None and commit != previous:
                print(f"--- commit changed: {previous} -> {commit}", flush=True)
            previous = commit
            per_commit[commit] += 1
            print(
                f"{now}  {status}  version={body.get('version', '?')}  commit={commit}"
                f"  pod={body.get('hostname', '?')}",
                flush=True,
            )
        time.sleep(args.interval)
    answered = sum(per_commit.values())
    print(f"\n{args.count} requests: {answered} answered, {failures} failed")
    for commit, count in per_commit.items():
        print(f"  commit {commit}: {count} answers")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
