"""RemoteExecutor against `oxigraph serve` holding a pushed build, side by side with the
embedded worker-pool executor over the same build: same bytes, same limits, same errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph
import pytest

from defence_engagements import formats
from defence_engagements.errors import (
    NotAcceptableError,
    QuerySyntaxError,
    QueryTimeoutError,
    ServiceNotAllowedError,
    StoreUnavailableError,
)
from defence_engagements.namespaces import NAMED_GRAPHS
from defence_engagements.publish.graph_store import GraphStoreClient
from defence_engagements.publish.push import RemoteCounter, push_build
from defence_engagements.query import QueryRequest, QueryResponse, ResultKind
from defence_engagements.query.pool import WorkerPoolExecutor
from defence_engagements.query.remote import RemoteExecutor
from defence_engagements.query.service_policy import ServicePolicy
from defence_engagements.store import open_published_build

from .publish_support import OxigraphServer

POLICY = ServicePolicy(allow=("https://query.wikidata.org/sparql",))
PREFIXED_SELECT = """
PREFIX dex: <https://w3id.org/defence-engagements/def#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?e ?label ?date WHERE { ?e a dex:Engagement ; rdfs:label ?label ; dex:date ?date }
ORDER BY ?date ?e LIMIT 50
"""


@pytest.fixture(scope="module")
def loaded_store(
    synthetic_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OxigraphServer]:
    directory = tmp_path_factory.mktemp("remote-executor")
    server = OxigraphServer(directory / "oxigraph", directory / "oxigraph.log")
    server.start()
    build = open_published_build(synthetic_build / "current")
    with GraphStoreClient(server.store_url) as client:
        push_build(build, client, RemoteCounter(server.query_url))
    del build
    yield server
    server.stop()


def run_both(
    synthetic_build: Path, loaded_store: OxigraphServer, request: QueryRequest
) -> tuple[QueryResponse, QueryResponse]:
    async def both() -> tuple[QueryResponse, QueryResponse]:
        local = WorkerPoolExecutor(synthetic_build / "current", workers=1, policy=POLICY)
        remote = RemoteExecutor(loaded_store.query_url, dataset_graphs=NAMED_GRAPHS, policy=POLICY)
        try:
            return await local.execute(request), await remote.execute(request)
        finally:
            await local.close()
            await remote.close()

    return asyncio.run(both())


def remote_only(
    loaded_store: OxigraphServer, request: QueryRequest, url: str = ""
) -> QueryResponse:
    async def one() -> QueryResponse:
        remote = RemoteExecutor(
            url or loaded_store.query_url, dataset_graphs=NAMED_GRAPHS, policy=POLICY
        )
        try:
            return await remote.execute(request)
        finally:
            await remote.close()

    return asyncio.run(one())


def canonical(body: bytes, fmt: formats.Format) -> pyoxigraph.Dataset:
    dataset = pyoxigraph.Dataset(pyoxigraph.parse(body, format=fmt.oxigraph_rdf))
    dataset.canonicalize(pyoxigraph.CanonicalizationAlgorithm.UNSTABLE)
    return dataset


def request(query: str, **changes: object) -> QueryRequest:
    values: dict[str, object] = {
        "query": query,
        "results_format": formats.RESULTS_JSON,
        "graph_format": formats.TURTLE,
    }
    values.update(changes)
    return QueryRequest(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("results_format", formats.RESULTS_FORMATS, ids=lambda f: f.name)
def test_select_gives_the_same_bytes_as_the_embedded_store(
    synthetic_build: Path, loaded_store: OxigraphServer, results_format: formats.Format
) -> None:
    local, remote = run_both(
        synthetic_build, loaded_store, request(PREFIXED_SELECT, results_format=results_format)
    )
    assert remote.kind is ResultKind.SOLUTIONS and remote.format is results_format
    assert remote.rows == local.rows == 50
    assert remote.body == local.body


def test_ask_and_graph_queries_agree(synthetic_build: Path, loaded_store: OxigraphServer) -> None:
    ask = "ASK { <https://w3id.org/defence-engagements/id/country/jp> ?p ?o }"
    local, remote = run_both(synthetic_build, loaded_store, request(ask))
    assert remote.kind is ResultKind.BOOLEAN and remote.body == local.body
    assert b"true" in remote.body

    construct = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } FILTER(isIRI(?s)) }"
    for fmt in formats.GRAPH_FORMATS:
        local, remote = run_both(
            synthetic_build, loaded_store, request(construct, graph_format=fmt)
        )
        assert remote.kind is ResultKind.GRAPH and remote.format is fmt
        assert remote.rows == local.rows > 4000
        assert canonical(remote.body, fmt) == canonical(local.body, fmt)


def test_the_default_graph_is_the_union_and_named_graphs_stay_visible(
    synthetic_build: Path, loaded_store: OxigraphServer
) -> None:
    # The remote store runs without --union-default-graph: the executor names the dataset.
    query = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"
    local, remote = run_both(synthetic_build, loaded_store, request(query))
    assert remote.body == local.body and remote.rows == len(NAMED_GRAPHS)
    union = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    local, remote = run_both(synthetic_build, loaded_store, request(union))
    assert remote.body == local.body and b'"4004"' in remote.body


def test_max_rows_truncates_like_the_embedded_store(
    synthetic_build: Path, loaded_store: OxigraphServer
) -> None:
    local, remote = run_both(synthetic_build, loaded_store, request(PREFIXED_SELECT, max_rows=7))
    assert (remote.rows, remote.truncated) == (local.rows, local.truncated) == (7, True)
    assert remote.body == local.body


def test_errors_are_the_contract_errors(loaded_store: OxigraphServer) -> None:
    with pytest.raises(ServiceNotAllowedError):
        remote_only(
            loaded_store, request("SELECT * { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }")
        )
    with pytest.raises(QuerySyntaxError, match="error at"):
        remote_only(loaded_store, request("SELECT * WHERE { ?s ?p "))
    with pytest.raises(QuerySyntaxError):
        remote_only(loaded_store, request("INSERT DATA { <urn:a> <urn:b> <urn:c> }"))
    with pytest.raises(NotAcceptableError):
        remote_only(loaded_store, request("ASK {}", results_format=None))
    heavy = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    with pytest.raises(QueryTimeoutError):
        remote_only(loaded_store, request(heavy, timeout=0.5))
    with pytest.raises(StoreUnavailableError, match="cannot be reached"):
        remote_only(loaded_store, request("ASK {}"), url="http://127.0.0.1:9/query")
