"""The subjects' triple maxima a build records for the server's bounded queries."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyoxigraph

from defence_engagements.pipeline.graph_file import write_graph_file
from defence_engagements.pipeline.statistics import runs_of, subject_bounds, subject_runs
from defence_engagements.store import open_published_build


def test_maxima_follow_subject_and_predicate_runs(tmp_path: Path) -> None:
    lines = [
        b"<http://a> <http://p> <http://x> .\n",
        b"<http://a> <http://p> <http://y> .\n",
        b"<http://a> <http://q> <http://x> .\n",
        b"<http://b> <http://p> <http://x> .\n",
        b"<http://b> <http://q> <http://x> .\n",
        b"<http://b> <http://q> <http://y> .\n",
        b"<http://b> <http://q> <http://z> .\n",
        b"<http://c> <http://q> <http://z> .\n",
    ]
    runs = runs_of(lines)
    assert runs.bounds() == {"any": 4, "by_predicate": {"http://p": 2, "http://q": 3}}
    assert runs.subjects == Counter({3: 1, 4: 1, 1: 1})
    assert runs.by_predicate["http://q"] == Counter({1: 2, 3: 1})
    one = write_graph_file(b"".join(lines), tmp_path / "one.nt", every=2)  # in parts
    two = write_graph_file(lines[0] + lines[7], tmp_path / "two.nt")
    bounds = subject_bounds(subject_runs({"g1": one, "g2": two}))
    assert bounds == {"any": 5, "by_predicate": {"http://p": 3, "http://q": 4}}


def test_the_build_records_each_graphs_maxima_summed(published_build: Path) -> None:
    current = published_build / "current"
    manifest = json.loads((current / "build.json").read_text())
    bounds = manifest["subject_bounds"]
    store = open_published_build(current).store
    per_subject: Counter[tuple[str, str]] = Counter()
    per_predicate: Counter[tuple[str, str, str]] = Counter()
    for quad in store.quads_for_pattern(None, None, None):
        graph = str(quad.graph_name)
        per_subject[graph, str(quad.subject)] += 1
        per_predicate[graph, str(quad.subject), quad.predicate.value] += 1
    most: dict[str, int] = {}
    for (graph, _), count in per_subject.items():
        most[graph] = max(most.get(graph, 0), count)
    assert bounds["any"] == sum(most.values())
    by_graph_predicate: dict[tuple[str, str], int] = {}
    for (graph, _, predicate), count in per_predicate.items():
        key = (graph, predicate)
        by_graph_predicate[key] = max(by_graph_predicate.get(key, 0), count)
    expected: Counter[str] = Counter()
    for (_, predicate), count in by_graph_predicate.items():
        expected[predicate] += count
    assert bounds["by_predicate"] == dict(expected)
    # and so every subject's quads, in the union of the graphs, stay under the bound
    union: Counter[str] = Counter()
    for quad in store.quads_for_pattern(None, None, None):
        assert isinstance(quad.subject, pyoxigraph.NamedNode | pyoxigraph.BlankNode)
        union[str(quad.subject)] += 1
    assert max(union.values()) <= bounds["any"]
