"""``make bench``: run every benchmark module of this package and print its table.

Each module exposes ``main()``; ``python -m bench NAME...`` runs only those named.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main(names: list[str]) -> None:
    if not names:
        names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name[0] != "_")
    for name in names:
        print(f"\n== bench.{name} ==", flush=True)
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
