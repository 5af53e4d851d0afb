"""``python -m benchmarks SUITE …``: one command per suite (see README.md)."""

from __future__ import annotations

import importlib
import sys

SUITES = {
    "generate": "benchmarks.generate",
    "reason": "benchmarks.reason",
    "build": "benchmarks.build",
    "validate": "benchmarks.validate",
    "server": "benchmarks.server",
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in SUITES:
        print(
            "usage: python -m benchmarks {" + "|".join(SUITES) + "} [options]  (--help per suite)"
        )
        raise SystemExit(0 if len(sys.argv) >= 2 and sys.argv[1] in ("-h", "--help") else 2)
    module = importlib.import_module(SUITES[sys.argv[1]])
    module.main(sys.argv[2:])


if __name__ == "__main__":
    main()
