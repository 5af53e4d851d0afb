"""How many triples one subject can have in the published store, from the graph files.

The server answers a query in its own process when it can prove the query small
(query/bounded.py): every triple pattern has an IRI subject, so each matches at most
that subject's triples. These maxima make the proof free: for every graph, the most
triples any one subject has, and the most it has with each predicate; summed over
the graphs (a subject's quads in the union of the graphs are at most the sum), they
bound any pattern without asking the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from defence_engagements.pipeline.graph_file import GraphFile


@dataclass
class Runs:
    """One graph's subjects by how many triples each has (n → how many subjects), and
    by how many it has with each predicate: the maxima are the largest n, and a
    rebuild moves the subjects it changed from one n to another (pipeline/rebuild.py)."""

    subjects: Counter[int] = field(default_factory=Counter)
    by_predicate: dict[str, Counter[int]] = field(default_factory=dict)

    def move(self, predicate: str | None, before: int, after: int) -> None:
        """One subject's count (of triples, or with ``predicate``) went from before to after."""
        counts = (
            self.subjects
            if predicate is None
            else self.by_predicate.setdefault(predicate, Counter())
        )
        for n, step in ((before, -1), (after, 1)):
            if n:
                counts[n] += step
                if not counts[n]:
                    del counts[n]

    @property
    def triples(self) -> int:
        """The graph's triples: every subject's, added up."""
        return sum(n * subjects for n, subjects in self.subjects.items())

    def copy(self) -> Runs:
        return Runs(self.subjects.copy(), {p: c.copy() for p, c in self.by_predicate.items()})

    def bounds(self) -> dict[str, Any]:
        return {
            "any": max(self.subjects, default=0),
            "by_predicate": {p: max(c) for p, c in sorted(self.by_predicate.items()) if c},
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "subjects": {str(n): k for n, k in sorted(self.subjects.items())},
            "by_predicate": {
                p: {str(n): k for n, k in sorted(c.items())}
                for p, c in sorted(self.by_predicate.items())
            },
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Runs:
        def counter(counts: dict[str, int]) -> Counter[int]:
            return Counter({int(n): k for n, k in counts.items()})

        return Runs(
            counter(data["subjects"]),
            {p: counter(c) for p, c in data["by_predicate"].items()},
        )


def subject_runs(graph_files: Mapping[str, GraphFile]) -> dict[str, Runs]:
    """Each graph's :class:`Runs`, read from its graph file."""
    found = {}
    for graph, file in graph_files.items():
        with file.open() as lines:
            found[graph] = runs_of(lines)
    return found


def subject_bounds(runs: Mapping[str, Runs]) -> dict[str, Any]:
    """``{"any": n, "by_predicate": {iri: n}}`` of the graphs together.

    ``any``: at most how many triples one subject has in all graphs together;
    ``by_predicate``: the same with one predicate (a predicate not listed has none)."""
    return sum_bounds(*(r.bounds() for r in runs.values()))


def sum_bounds(*parts: dict[str, Any]) -> dict[str, Any]:
    """The bounds of several graphs together (a subject's quads in the union of the
    graphs are at most the sum of its triples in each)."""
    by_predicate: dict[str, int] = {}
    for part in parts:
        for predicate, count in part["by_predicate"].items():
            by_predicate[predicate] = by_predicate.get(predicate, 0) + count
    return {"any": sum(p["any"] for p in parts), "by_predicate": dict(sorted(by_predicate.items()))}


def runs_of(lines: Iterable[bytes]) -> Runs:
    """One sorted, distinct graph file: its lines come grouped by subject, and within
    a subject by predicate (lines that share a prefix are consecutive)."""
    runs = Runs()
    by_predicate: dict[bytes, Counter[int]] = {}
    subject = predicate = b""
    subject_run = predicate_run = 0
    for line in lines:
        this_subject, _, rest = line.partition(b" ")
        this_predicate = rest[: rest.find(b" ")]
        if this_subject != subject or this_predicate != predicate:
            if predicate_run:
                by_predicate.setdefault(predicate, Counter())[predicate_run] += 1
            predicate, predicate_run = this_predicate, 0
            if this_subject != subject:
                if subject_run:
                    runs.subjects[subject_run] += 1
                subject, subject_run = this_subject, 0
        subject_run += 1
        predicate_run += 1
    if subject_run:
        runs.subjects[subject_run] += 1
    if predicate_run:
        by_predicate.setdefault(predicate, Counter())[predicate_run] += 1
    runs.by_predicate = {p.decode()[1:-1]: c for p, c in by_predicate.items()}
    return runs
