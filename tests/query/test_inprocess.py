"""The in-process executor over a build in the real layout."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pyoxigraph
import pytest

from defence_engagements import formats
from defence_engagements.errors import (
    NotAcceptableError,
    QuerySyntaxError,
    ServiceNotAllowedError,
)
from defence_engagements.query import ResultKind
from defence_engagements.query.inprocess import InProcessExecutor

from .support import query_request

GRAPH = "http://example.org/g"


def _publish(build_dir: Path, build_id: str, triples: int) -> None:
    root = build_dir / "builds" / build_id
    root.mkdir(parents=True)
    store = pyoxigraph.Store(str(root / "store"))
    store.extend(
        pyoxigraph.Quad(
            pyoxigraph.NamedNode(f"http://example.org/s{i}"),
            pyoxigraph.NamedNode("http://example.org/p"),
            pyoxigraph.Literal(str(i)),
            pyoxigraph.NamedNode(GRAPH),
        )
        for i in range(triples)
    )
    store.flush()
    del store
    (root / "build.json").write_text(
        json.dumps({"version": build_id, "built_at": "", "graphs": {GRAPH: triples}})
    )
    link = build_dir / "current.new"
    link.symlink_to(Path("builds") / build_id)
    os.replace(link, build_dir / "current")


def _count(executor: InProcessExecutor) -> int:
    response = asyncio.run(executor.execute(query_request("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")))
    assert response.kind is ResultKind.SOLUTIONS
    return int(json.loads(response.body)["results"]["bindings"][0]["n"]["value"])


def test_queries_see_the_union_and_a_new_build_without_restart(tmp_path):
    _publish(tmp_path, "b1", 3)
    executor = InProcessExecutor(tmp_path / "current")
    assert _count(executor) == 3
    _publish(tmp_path, "b2", 5)
    assert _count(executor) == 5


def test_graph_results_in_the_negotiated_format(tmp_path):
    _publish(tmp_path, "b1", 3)
    executor = InProcessExecutor(tmp_path / "current")
    response = asyncio.run(executor.execute(query_request("CONSTRUCT WHERE { ?s ?p ?o }")))
    assert response.kind is ResultKind.GRAPH and response.format is formats.NTRIPLES
    assert response.rows == 3 and response.body.count(b"\n") == 3


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (query_request("SELECT WHERE"), QuerySyntaxError),
        (query_request("ASK {}", results_format=None), NotAcceptableError),
        (
            query_request("SELECT * { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"),
            ServiceNotAllowedError,
        ),
    ],
)
def test_errors_a_user_can_cause(tmp_path, request_, error):
    _publish(tmp_path, "b1", 1)
    with pytest.raises(error):
        asyncio.run(InProcessExecutor(tmp_path / "current").execute(request_))
