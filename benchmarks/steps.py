"""One measured step per process: ``python -m benchmarks.steps STEP ARGS…``.

Prints one JSON line: ``seconds`` (the measured part only), ``peak_mb`` (this
process's peak resident memory) and whatever the step reports besides.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import closures
from defence_engagements.namespaces import ID

ENGINES: dict[str, Callable[..., Any]] = {
    "ours": closures.ours,
    "owlrl": closures.owlrl_engine,
    "reasonable": closures.reasonable_engine,
}


def reason(engine: str, tree: str, out_dir: str) -> dict[str, Any]:
    started = time.perf_counter()
    store = closures.load_tree(Path(tree))
    parse_seconds = time.perf_counter() - started
    inferred, seconds = ENGINES[engine](store)
    restricted = closures.as_lines(t for t in inferred if closures.meaningful(t))
    data = closures.as_lines(
        t for t in inferred if closures.meaningful(t) and closures.data_level(t, ID)
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"inferred-{engine}.nt").write_text("\n".join(restricted) + "\n")
    return {
        "seconds": seconds,
        "parse_seconds": parse_seconds,
        "inferred": len(restricted),
        "digest": closures.digest(restricted),
        "data_inferred": len(data),
        "data_digest": closures.digest(data),
    }


def validate(engine: str, tree: str) -> dict[str, Any]:
    """One validation of a whole tree: the build's path (``ours``) or one pyshacl run."""
    from benchmarks import validation

    started = time.perf_counter()
    parsed = validation.parse_tree(Path(tree))
    parse_seconds = time.perf_counter() - started
    results, seconds = validation.ENGINES[engine](parsed)
    violations = sorted(r for r in results if r[4] == "Violation")
    return {
        "seconds": seconds,
        "parse_seconds": parse_seconds,
        "results": len(results),
        "violations": len(violations),
        "digest": validation.digest(results),
        "violating_focus_nodes": sorted({r[0] for r in violations})[:50],
    }


STEPS: dict[str, Callable[..., dict[str, Any]]] = {"reason": reason, "validate": validate}


def main(argv: list[str]) -> None:
    step, *args = argv
    payload = STEPS[step](*args)
    payload["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(payload))


if __name__ == "__main__":
    main(sys.argv[1:])
