"""Dereferencing: every /id/ IRI in the data answers 303, then a document in every format."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pyoxigraph
import pytest
import rdflib
from rdflib.compare import isomorphic

ID = "https://w3id.org/defence-engagements/id/"
FORMATS = [
    ("text/turtle", "ttl", pyoxigraph.RdfFormat.TURTLE),
    ("application/n-triples", "nt", pyoxigraph.RdfFormat.N_TRIPLES),
    ("application/ld+json", "jsonld", pyoxigraph.RdfFormat.JSON_LD),
]
RDFXML = ("application/rdf+xml", "rdf", pyoxigraph.RdfFormat.RDF_XML)
HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
def id_iris(site, client) -> list[str]:
    query = f"""SELECT DISTINCT ?x WHERE {{ {{ ?x ?p ?o }} UNION {{ ?s ?p ?x }}
    FILTER(isIRI(?x) && STRSTARTS(STR(?x), "{ID}")) }}"""
    rows = client.get(site.url("sparql"), params={"query": query}).json()["results"]["bindings"]
    # The things: /id/{type}/{slug} (the bare /id/ namespace is named in the VoID too).
    return sorted(
        row["x"]["value"]
        for row in rows
        if re.fullmatch(ID + r"[a-z0-9-]+/[^/]+", row["x"]["value"])
    )


def _local(site, iri: str) -> str:
    return site.url(iri.removeprefix("https://w3id.org/defence-engagements/"))


def _graph(text: str, fmt: pyoxigraph.RdfFormat) -> rdflib.Graph | frozenset[str]:
    """The document's triples: a set of N-Triples lines when it has no blank nodes
    (then equality is isomorphism), else an rdflib graph for an isomorphism check."""
    triples = [quad.triple for quad in pyoxigraph.parse(text, format=fmt)]
    if any(
        isinstance(t.subject, pyoxigraph.BlankNode) or isinstance(t.object, pyoxigraph.BlankNode)
        for t in triples
    ):
        data = (
            pyoxigraph.serialize(triples, format=pyoxigraph.RdfFormat.N_TRIPLES) or b""
        ).decode()
        return rdflib.Graph().parse(data=data, format="nt")
    return frozenset(str(t) for t in triples)


def _same_graph(a: rdflib.Graph | frozenset[str], b: rdflib.Graph | frozenset[str]) -> bool:
    if isinstance(a, rdflib.Graph) and isinstance(b, rdflib.Graph):
        return isomorphic(a, b)
    return a == b


def _dereference(
    site, client, iri: str, formats=FORMATS
) -> dict[str, rdflib.Graph | frozenset[str]]:
    graphs: dict[str, rdflib.Graph | frozenset[str]] = {}
    for accept, extension, parser in formats:
        redirect = client.get(_local(site, iri), headers={"Accept": accept})
        assert redirect.status_code == 303, (iri, accept, redirect.status_code)
        location = redirect.headers["location"]
        assert location.endswith(f".{extension}")
        assert "/doc/" in location
        document = client.get(location)
        assert document.status_code == 200, (location, document.text[:300])
        assert document.headers["content-type"].startswith(accept)
        graphs[extension] = _graph(document.text, parser)
    redirect = client.get(_local(site, iri), headers={"Accept": HTML_ACCEPT})
    assert redirect.status_code == 303
    page = client.get(redirect.headers["location"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert iri in page.text
    return graphs


def test_every_id_iri_dereferences_in_every_format_to_the_same_graph(site, client, id_iris):
    assert len(id_iris) > 30
    with ThreadPoolExecutor(6) as pool:
        results = dict(
            zip(
                id_iris, pool.map(lambda iri: _dereference(site, client, iri), id_iris), strict=True
            )
        )
    for iri, graphs in results.items():
        turtle = graphs["ttl"]
        lines = {str(t) for t in turtle} if isinstance(turtle, rdflib.Graph) else turtle
        primary = "<http://xmlns.com/foaf/0.1/primaryTopic>"
        assert any(primary in line and line.endswith(f"<{iri}>") for line in lines), iri
        assert len(lines) > 2
        for extension in ("nt", "jsonld"):
            assert _same_graph(turtle, graphs[extension]), (iri, extension)


def test_a_document_holds_all_triples_about_its_subject_and_links_pointing_at_it(
    site, client, id_iris
):
    iri = next(i for i in id_iris if "/engagement/" in i)
    turtle = rdflib.Graph().parse(
        data=client.get(_local(site, iri).replace("/id/", "/doc/") + ".ttl").text, format="turtle"
    )
    construct = (
        f"CONSTRUCT {{ <{iri}> ?p ?o . ?s ?q <{iri}> }} "
        f"WHERE {{ {{ <{iri}> ?p ?o }} UNION {{ ?s ?q <{iri}> }} }}"
    )
    expected = rdflib.Graph().parse(
        data=client.get(
            site.url("sparql"),
            params={"query": construct},
            headers={"Accept": "application/n-triples"},
        ).text,
        format="nt",
    )
    assert len(expected) > 5
    assert all(triple in turtle for triple in expected)
    labelled = [o for o in turtle.objects(rdflib.URIRef(iri), None) if isinstance(o, rdflib.URIRef)]
    assert any(turtle.value(o, rdflib.RDFS.label) is not None for o in labelled)


def test_a_document_without_extension_negotiates_and_says_which_variant(site, client, id_iris):
    doc = _local(site, id_iris[0]).replace("/id/", "/doc/")
    response = client.get(doc, headers={"Accept": "application/n-triples"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/n-triples")
    assert response.headers["content-location"] == doc + ".nt"
    assert "Accept" in response.headers["vary"]


def test_documents_revalidate_with_their_etag(site, client, id_iris):
    doc = _local(site, id_iris[0]).replace("/id/", "/doc/") + ".ttl"
    first = client.get(doc)
    again = client.get(doc, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["id/person/no-such-person", "doc/person/no-such-person.ttl"])
def test_unknown_things_get_a_helpful_404_page(site, client, id_iris, path):
    response = client.get(site.url(path), headers={"Accept": HTML_ACCEPT})
    assert response.status_code == 404
    assert "no-such-person" in response.text
    assert "Did you mean" in response.text or "person identifiers are known" in response.text


def test_a_misspelt_slug_suggests_the_right_one(site, client, id_iris):
    iri = next(i for i in id_iris if "/person/" in i)
    misspelt = _local(site, iri)[:-1] + "x"
    response = client.get(misspelt, headers={"Accept": HTML_ACCEPT})
    assert response.status_code == 404
    assert _local(site, iri) in response.text


def test_rdfxml_documents_hold_the_same_graph(site, client, id_iris):
    sample = id_iris[:: max(1, len(id_iris) // 12)]
    for iri in sample:
        graphs = _dereference(site, client, iri, [FORMATS[0], RDFXML])
        assert _same_graph(graphs["ttl"], graphs["rdf"]), iri


@pytest.mark.parametrize(
    "path",
    [
        "id/%22%7D%7D%20DROP%20ALL%20%23/x",
        "id/person/%22%3E%3Cx%3E",
        "doc/per%20son/x.ttl",
        "doc/person/UPPER.ttl",
    ],
)
def test_malformed_identifiers_get_a_404_not_an_error(site, client, path):
    response = client.get(site.url(path), headers={"Accept": "text/turtle"})
    assert response.status_code == 404
