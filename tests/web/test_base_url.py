"""A server started with ``--base-url`` writes every link on that base, not on the
address it listens at: 303 targets, VoID endpoint and dumps, the service
description, and the pages' alternate links. Every such link, mapped back onto the
loopback server, resolves."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

import pytest
import rdflib

BASE = "https://data.example.org/"
CANONICAL = "https://w3id.org/defence-engagements/"
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
def based(
    published_build: Path, tmp_path_factory: pytest.TempPathFactory, root_helpers: ModuleType
) -> Iterator:  # type: ignore[type-arg]
    log = tmp_path_factory.mktemp("based") / "server.log"
    server = root_helpers.start_server(published_build, "--base-url", BASE, log=log)
    yield server
    root_helpers.stop_server(server)


def _here(server, url: str) -> str:  # type: ignore[no-untyped-def]
    """A URL on the public base → the same path on the loopback server."""
    assert url.startswith(BASE), url
    return server.url(url.removeprefix(BASE))


def _select(server, client, query: str) -> list[str]:  # type: ignore[no-untyped-def]
    rows = client.get(server.url("sparql"), params={"query": query}).json()["results"]
    return [row["x"]["value"] for row in rows["bindings"]]


class _Alternates(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        values = dict(attrs)
        if tag == "link" and values.get("rel") == "alternate":
            self.links.append((values.get("type") or "", values.get("href") or ""))


def test_see_other_points_at_the_public_base(based, client):
    things = _select(
        based,
        client,
        """PREFIX dex: <https://w3id.org/defence-engagements/def#>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?x WHERE { ?x a/rdfs:subClassOf* dex:Engagement } LIMIT 3""",
    )
    assert things
    for iri in [*things, CANONICAL + "id/country/jp"]:
        path = iri.removeprefix(CANONICAL)
        doc = path.replace("id/", "doc/", 1)
        for accept, extension, media in [
            (HTML, ".html", "text/html"),
            ("text/turtle", ".ttl", "text/turtle"),
        ]:
            answer = client.get(based.url(path), headers={"Accept": accept})
            assert answer.status_code == 303, iri
            assert answer.headers["location"] == BASE + doc + extension
            followed = client.get(_here(based, answer.headers["location"]))
            assert followed.status_code == 200
            assert followed.headers["content-type"].startswith(media)


def test_void_endpoint_and_dumps_are_on_the_public_base(based, client, build_root):
    response = client.get(based.url(".well-known/void"), headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    assert based.base_url not in response.text  # the loopback address appears nowhere
    void = rdflib.Graph().parse(data=response.text, format="turtle")
    ours = [s for s in void.subjects(VOID.uriSpace, None) if str(s).startswith(CANONICAL)]
    assert len(ours) == 1
    dataset = ours[0]
    assert set(void.objects(dataset, VOID.sparqlEndpoint)) == {rdflib.URIRef(BASE + "sparql")}
    assert set(void.objects(dataset, VOID.uriLookupEndpoint)) == {rdflib.URIRef(BASE + "id/")}
    files = {p.name for p in (build_root / "dumps").iterdir()} - {"SHA256SUMS", "void.ttl"}
    dumps = {str(o) for o in void.objects(dataset, VOID.dataDump)}
    assert dumps == {BASE + "dumps/" + name for name in files}
    for url in dumps:
        assert client.head(_here(based, url)).status_code == 200, url


def test_dcat_download_urls_are_on_the_public_base(based, client, build_root):
    response = client.get(based.url("dumps/"), headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    urls = {str(o) for o in graph.objects(None, DCAT.downloadURL)}
    assert urls == {BASE + "dumps/" + p.name for p in (build_root / "dumps").iterdir()}


def test_service_description_names_the_public_endpoint(based, client):
    response = client.get(based.url("sparql"), headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    endpoints = set(graph.objects(None, SD.endpoint))
    assert endpoints == {rdflib.URIRef(BASE + "sparql")}
    assert based.base_url not in response.text


def test_pages_give_alternates_on_the_public_base(based, client):
    for path in ("doc/country/jp.html", "doc/country/us.html"):
        page = client.get(based.url(path), headers={"Accept": HTML})
        assert page.status_code == 200
        assert based.base_url not in page.text
        parser = _Alternates()
        parser.feed(page.text)
        stem = path.removesuffix(".html")
        assert {href for _type, href in parser.links} >= {
            BASE + stem + ext for ext in (".ttl", ".nt", ".jsonld", ".rdf")
        }
        for media, href in parser.links:
            followed = client.get(_here(based, href))
            assert followed.status_code == 200, href
            assert followed.headers["content-type"].startswith(media), href
