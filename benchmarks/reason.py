"""Reasoning suite: our rules engine against owlrl and `reasonable`, time and equality.

``python -m benchmarks reason [--sizes 100,1000,10000] [--runs 3]``

Each engine runs in a fresh process on the same parse of the same generated
tree (see closures.py); the restricted closures are compared by digest in the
same run, so the ratios and the equality verdicts come from one measurement.
owlrl is skipped at a size once it has failed to finish within the time limit.
"""

from __future__ import annotations

import argparse
from typing import Any

from benchmarks import trees
from benchmarks.measure import timed_runs, write_results


def run(sizes: list[int], runs: int, owlrl_timeout: float, owlrl_runs: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    owlrl_gave_up = False
    for size in sizes:
        tree = trees.tree(size)
        out = trees.WORK / "closures" / f"n{size}"
        row: dict[str, Any] = {"engagements": size, "triples": trees.triples_in(tree)}
        for engine in ("ours", "reasonable", "owlrl"):
            if engine == "owlrl" and owlrl_gave_up:
                row["owlrl"] = {"skipped": f"did not finish within {owlrl_timeout:.0f} s before"}
                continue
            row[engine] = timed_runs(
                "reason",
                [engine, str(tree), str(out)],
                runs=owlrl_runs if engine == "owlrl" else runs,
                timeout=owlrl_timeout if engine == "owlrl" else None,
                keys=("inferred", "digest", "data_digest", "data_inferred"),
            )
            owlrl_gave_up |= "timeout" in row[engine]
        ours = row["ours"]
        for other in ("owlrl", "reasonable"):
            theirs = row.get(other, {})
            if "seconds" in theirs:
                row[f"speedup_vs_{other}"] = theirs["seconds"] / ours["seconds"]
        if "digest" in row.get("owlrl", {}):
            row["equal_to_owlrl"] = row["owlrl"]["digest"] == ours["digest"]
        row["data_level_equal_to_reasonable"] = (
            row["reasonable"]["data_digest"] == ours["data_digest"]
        )
        rows.append(row)
        print(table([row]), flush=True)
    return {"suite": "reason", "rows": rows}


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| engagements | triples | ours s | reasonable s | owlrl s | × owlrl | × reasonable "
        "| = owlrl | = reasonable (data) | ours peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        owlrl = r.get("owlrl", {})
        owlrl_s = f"{owlrl['seconds']:.1f}" if "seconds" in owlrl else "> limit / skipped"
        lines.append(
            f"| {r['engagements']:,} | {r['triples']:,} | {r['ours']['seconds']:.2f} "
            f"| {r['reasonable']['seconds']:.2f} | {owlrl_s} "
            f"| {r.get('speedup_vs_owlrl', float('nan')):.0f} "
            f"| {r.get('speedup_vs_reasonable', float('nan')):.1f} "
            f"| {r.get('equal_to_owlrl', '–')} | {r['data_level_equal_to_reasonable']} "
            f"| {r['ours']['peak_mb']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks reason", description=__doc__)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--owlrl-runs", type=int, default=1)
    parser.add_argument("--owlrl-timeout", type=float, default=600)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = run(sizes, args.runs, args.owlrl_timeout, args.owlrl_runs)
    path = write_results("reason", results)
    print(table(results["rows"]))
    print(f"results: {path}")
