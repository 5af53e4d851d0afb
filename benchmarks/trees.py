"""Generated source trees, cached by size and seed under build/benchmarks/ (git-ignored)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.generate import Generator
from benchmarks.measure import REPO_ROOT

WORK = REPO_ROOT / "build" / "benchmarks"


def tree(engagements: int, seed: int = 7, violations: int = 0) -> Path:
    """A synthetic tree with ``engagements`` engagements, generated once."""
    out = WORK / "trees" / f"n{engagements}-s{seed}-v{violations}"
    stamp = out / "generated.json"
    if not stamp.is_file():
        summary = Generator(REPO_ROOT, engagements, seed).write(out, violations)
        stamp.write_text(json.dumps(summary, indent=2) + "\n")
    return out


def triples_in(path: Path) -> int:
    import pyoxigraph as ox

    files = sorted((path / "ontology").glob("*.ttl")) + sorted((path / "data").rglob("*.ttl"))
    return sum(sum(1 for _ in ox.parse(path=str(f), format=ox.RdfFormat.TURTLE)) for f in files)
