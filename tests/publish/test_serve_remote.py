"""`engagements serve --sparql-backend` over `oxigraph serve` filled by `engagements push`:
the same answers and the same pages as the server over the embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pyoxigraph
import pytest

from defence_engagements.namespaces import ID

from .publish_support import OxigraphServer

ENGAGEMENT_QUERY = f"""
PREFIX dex: <https://w3id.org/defence-engagements/def#>
SELECT ?e ?type WHERE {{ ?e a ?type . FILTER(STRSTARTS(STR(?e), "{ID}engagement/")) }}
ORDER BY ?e ?type
"""


@pytest.fixture(scope="module")
def remote_server(
    served_build: Path,
    pushed_store: OxigraphServer,
    root_helpers: ModuleType,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[object]:
    log = tmp_path_factory.mktemp("remote-serve") / "server.log"
    server = root_helpers.start_server(
        served_build, "--sparql-backend", pushed_store.query_url, log=log
    )
    yield server
    root_helpers.stop_server(server)


def things(served_build: Path) -> list[str]:
    store = pyoxigraph.Store.read_only(str(served_build / "current" / "store"))
    rows = store.query(
        f'SELECT DISTINCT ?s {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?s), "{ID}")) }}'
    )
    return sorted(row["s"].value[len(ID) :] for row in rows)  # type: ignore[union-attr]


def local_view(server: object, body: bytes) -> bytes:
    """A page with the server's own URL taken out, so two servers' pages compare."""
    return body.replace(server.base_url.encode(), b"http://server/")  # type: ignore[attr-defined]


def canonical(body: bytes, media_type: str) -> pyoxigraph.Dataset:
    fmt = {
        "text/turtle": pyoxigraph.RdfFormat.TURTLE,
        "application/n-triples": pyoxigraph.RdfFormat.N_TRIPLES,
    }[media_type]
    dataset = pyoxigraph.Dataset(pyoxigraph.parse(body, format=fmt))
    dataset.canonicalize(pyoxigraph.CanonicalizationAlgorithm.UNSTABLE)
    return dataset


ANY_THING = f'ASK {{ ?s ?p ?o FILTER(STRSTARTS(STR(?s), "{ID}")) }}'
GRAPH_COUNTS = "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        (ENGAGEMENT_QUERY, "application/sparql-results+json", b"/id/engagement/"),
        (ENGAGEMENT_QUERY, "text/csv", b"/id/engagement/"),
        (ENGAGEMENT_QUERY, "application/sparql-results+xml", b"/id/engagement/"),
        (GRAPH_COUNTS, "text/tab-separated-values", b"/graph/data>"),
        ("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", "application/sparql-results+json", b'"n"'),
        (ANY_THING, "application/sparql-results+json", b"true"),
    ],
)
def test_queries_get_the_same_answers(
    embedded_server: object, remote_server: object, query: str, accept: str, expected: bytes
) -> None:
    with httpx.Client(timeout=30) as client:
        answers = [
            client.post(
                server.url("sparql"),
                data={"query": query},  # type: ignore[attr-defined]
                headers={"Accept": accept},
            )
            for server in (embedded_server, remote_server)
        ]
    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].headers["content-type"] == answers[1].headers["content-type"]
    assert answers[0].content == answers[1].content
    assert expected in answers[0].content


def test_graph_answers_and_errors_agree(embedded_server: object, remote_server: object) -> None:
    construct = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"
    with httpx.Client(timeout=30) as client:
        graphs = [
            client.get(
                server.url("sparql"),
                params={"query": construct},  # type: ignore[attr-defined]
                headers={"Accept": "application/n-triples"},
            )
            for server in (embedded_server, remote_server)
        ]
        assert canonical(graphs[0].content, "application/n-triples") == canonical(
            graphs[1].content, "application/n-triples"
        )
        for bad in (
            "SELECT * WHERE { ?s ",
            "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
            "SELECT * { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }",
        ):
            statuses = [
                client.get(server.url("sparql"), params={"query": bad}).status_code  # type: ignore[attr-defined]
                for server in (embedded_server, remote_server)
            ]
            assert statuses[0] == statuses[1] and 400 <= statuses[0] < 500, bad


def test_pages_and_documents_are_the_same(
    served_build: Path, embedded_server: object, remote_server: object
) -> None:
    paths = ["", "def", "dumps/", ".well-known/void"]
    per_kind: dict[str, int] = {}
    for thing in things(served_build):
        kind = thing.partition("/")[0]
        per_kind[kind] = per_kind.get(kind, 0) + 1
        # Every engagement page (the richest), and a few of each other kind.
        if kind == "engagement" or per_kind[kind] <= 2:
            paths += [f"doc/{thing}.html", f"doc/{thing}.ttl"]
    assert len(paths) > 30 and len(per_kind) >= 6
    with httpx.Client(timeout=30) as client:
        for path in paths:
            accept = "text/turtle" if path.endswith((".ttl", "void")) else "text/html"
            embedded, remote = (
                client.get(server.url(path), headers={"Accept": accept})  # type: ignore[attr-defined]
                for server in (embedded_server, remote_server)
            )
            assert embedded.status_code == remote.status_code == 200, path
            if accept == "text/turtle":
                assert canonical(local_view(embedded_server, embedded.content), accept) == (
                    canonical(local_view(remote_server, remote.content), accept)
                ), path
            else:
                assert local_view(embedded_server, embedded.content) == local_view(
                    remote_server, remote.content
                ), path
            # ETags may fold in the serving URL, which differs; both must offer one.
            assert embedded.headers.get("etag") and remote.headers.get("etag"), path


def test_without_a_local_build_the_store_describes_the_build(
    served_build: Path,
    embedded_server: object,
    pushed_store: OxigraphServer,
    root_helpers: ModuleType,
    tmp_path: Path,
) -> None:
    empty = tmp_path / "no-build"
    empty.mkdir()
    server = root_helpers.start_server(
        empty, "--sparql-backend", pushed_store.query_url, log=tmp_path / "server.log"
    )
    try:
        engagement = next(t for t in things(served_build) if t.startswith("engagement/"))
        with httpx.Client(timeout=30) as client:
            for path in ("", f"doc/{engagement}.html"):
                embedded, remote = (
                    client.get(s.url(path), headers={"Accept": "text/html"})  # type: ignore[attr-defined]
                    for s in (embedded_server, server)
                )
                assert remote.status_code == 200, path
                assert local_view(embedded_server, embedded.content) == local_view(
                    server, remote.content
                ), path
    finally:
        root_helpers.stop_server(server)
