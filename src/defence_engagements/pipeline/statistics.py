"""How many triples one subject can have in the published store, from the graph files.

The server answers a query in its own process when it can prove the query small
(query/bounded.py): every triple pattern has an IRI subject, so each matches at most
that subject's triples. These maxima make the proof free: for every graph, the most
triples any one subject has, and the most it has with each predicate; summed over
the graphs (a subject's quads in the union of the graphs are at most the sum), they
bound any pattern without asking the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def subject_bounds(graph_files: Mapping[str, Path]) -> dict[str, Any]:
    """``{"any": n, "by_predicate": {iri: n}}`` over the sorted N-Triples files.

    ``any``: at most how many triples one subject has in all graphs together;
    ``by_predicate``: the same with one predicate (a predicate not listed has none)."""
    graphs = []
    for path in graph_files.values():
        with path.open("rb") as lines:
            most, by_predicate = _maxima(lines)
        graphs.append({"any": most, "by_predicate": by_predicate})
    return sum_bounds(*graphs)


def sum_bounds(*parts: dict[str, Any]) -> dict[str, Any]:
    """The bounds of the graphs of several :func:`subject_bounds` together."""
    by_predicate: dict[str, int] = {}
    for part in parts:
        for predicate, count in part["by_predicate"].items():
            by_predicate[predicate] = by_predicate.get(predicate, 0) + count
    return {"any": sum(p["any"] for p in parts), "by_predicate": dict(sorted(by_predicate.items()))}


def _maxima(lines: Iterable[bytes]) -> tuple[int, dict[str, int]]:
    """One sorted, distinct graph file: its lines come grouped by subject, and within
    a subject by predicate (lines that share a prefix are consecutive)."""
    most = 0
    by_predicate: dict[bytes, int] = {}
    subject = predicate = b""
    subject_run = predicate_run = 0
    for line in lines:
        this_subject, _, rest = line.partition(b" ")
        this_predicate = rest[: rest.find(b" ")]
        if this_subject != subject or this_predicate != predicate:
            if predicate_run > by_predicate.get(predicate, 0):
                by_predicate[predicate] = predicate_run
            predicate, predicate_run = this_predicate, 0
            if this_subject != subject:
                most = max(most, subject_run)
                subject, subject_run = this_subject, 0
        subject_run += 1
        predicate_run += 1
    most = max(most, subject_run)
    if predicate_run > by_predicate.get(predicate, 0):
        by_predicate[predicate] = predicate_run
    by_predicate.pop(b"", None)
    return most, {p.decode()[1:-1]: n for p, n in by_predicate.items()}
