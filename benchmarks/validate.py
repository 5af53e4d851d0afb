"""Validation suite: the build's validation path against one whole-graph pyshacl run.

``python -m benchmarks validate [--sizes 100,1000,10000] [--runs 3]``

Each engine runs in a fresh process on the same parse of the same generated tree,
with violations planted (one per 100 engagements, at least four); the result sets
are compared by digest in the same run. pyshacl is skipped at a size once it has
failed to finish within the time limit.
"""

from __future__ import annotations

import argparse
from typing import Any

from benchmarks import trees
from benchmarks.measure import timed_runs, write_results


def run(sizes: list[int], runs: int, pyshacl_timeout: float, pyshacl_runs: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    pyshacl_gave_up = False
    for size in sizes:
        planted = max(4, size // 100)
        tree = trees.tree(size, violations=planted)
        row: dict[str, Any] = {"engagements": size, "planted": planted}
        for engine in ("ours", "pyshacl"):
            if engine == "pyshacl" and pyshacl_gave_up:
                row[engine] = {"skipped": f"did not finish within {pyshacl_timeout:.0f} s before"}
                continue
            row[engine] = timed_runs(
                "validate",
                [engine, str(tree)],
                runs=pyshacl_runs if engine == "pyshacl" else runs,
                timeout=pyshacl_timeout if engine == "pyshacl" else None,
                keys=("results", "violations", "digest"),
            )
            pyshacl_gave_up |= "timeout" in row[engine]
        theirs = row.get("pyshacl", {})
        if "seconds" in theirs:
            row["speedup"] = theirs["seconds"] / row["ours"]["seconds"]
            row["same_results"] = theirs["digest"] == row["ours"]["digest"]
        rows.append(row)
        print(table([row]), flush=True)
    return {"suite": "validate", "rows": rows}


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| engagements | planted | ours s | pyshacl s | × pyshacl | same results "
        "| violations | results | ours peak MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        theirs = r.get("pyshacl", {})
        theirs_s = f"{theirs['seconds']:.1f}" if "seconds" in theirs else "> limit / skipped"
        lines.append(
            f"| {r['engagements']:,} | {r['planted']} | {r['ours']['seconds']:.2f} | {theirs_s} "
            f"| {r.get('speedup', float('nan')):.0f} | {r.get('same_results', '–')} "
            f"| {r['ours']['violations']} | {r['ours']['results']} | {r['ours']['peak_mb']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks validate", description=__doc__)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pyshacl-runs", type=int, default=1)
    parser.add_argument("--pyshacl-timeout", type=float, default=600)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = run(sizes, args.runs, args.pyshacl_timeout, args.pyshacl_runs)
    path = write_results("validate", results)
    print(table(results["rows"]))
    print(f"results: {path}")
