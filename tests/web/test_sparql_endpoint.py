"""The SPARQL 1.1 Protocol endpoint of a real server process over the real build."""

from __future__ import annotations

import csv
import io
import json
import uuid
from urllib.parse import urlencode

import httpx
import pyoxigraph
import pytest
import rdflib
from rdflib.compare import isomorphic
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, JSON, TSV, XML, SPARQLWrapper

from defence_engagements.settings import load_settings

SELECT = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?thing ?label WHERE { ?thing a ?class ; rdfs:label ?label }
ORDER BY ?thing ?label LIMIT 60"""
CONSTRUCT = """PREFIX dex: <https://w3id.org/defence-engagements/def#>
CONSTRUCT { ?e ?p ?o } WHERE { ?e dex:evidenceQuote ?quote ; ?p ?o }"""
COUNT_ALL = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def _rows_from_wrapper(site, fmt: str) -> list[tuple[str, ...]]:
    wrapper = SPARQLWrapper(site.url("sparql"))
    wrapper.setQuery(SELECT)
    wrapper.setReturnFormat(fmt)
    result = wrapper.query().convert()
    if fmt == JSON:
        return [(b["thing"]["value"], b["label"]["value"]) for b in result["results"]["bindings"]]
    if fmt == XML:
        rows = []
        for node in result.getElementsByTagName("result"):
            values = {}
            for binding in node.getElementsByTagName("binding"):
                values[binding.getAttribute("name")] = "".join(
                    text.data
                    for child in binding.childNodes
                    if child.nodeType == child.ELEMENT_NODE
                    for text in child.childNodes
                )
            rows.append((values["thing"], values["label"]))
        return rows
    text = result.decode("utf-8")
    if fmt == CSV:
        return [tuple(row) for row in list(csv.reader(io.StringIO(text)))[1:]]
    lines = text.splitlines()[1:]
    rows = []
    for line in lines:
        thing, label = line.split("\t")
        label_term = pyoxigraph.Literal  # TSV holds terms in Turtle syntax
        parsed = next(
            iter(pyoxigraph.parse(f"<x:s> <x:p> {label} .", format=pyoxigraph.RdfFormat.TURTLE))
        )
        assert isinstance(parsed.object, label_term)
        rows.append((thing.strip("<>"), parsed.object.value))
    return rows


def _rows_from_rdflib(site, fmt: str) -> list[tuple[str, ...]]:
    store = SPARQLStore(site.url("sparql"), returnFormat=fmt)
    return [(str(row[0]), str(row[1])) for row in store.query(SELECT)]


@pytest.mark.parametrize("fmt", [JSON, XML, CSV, TSV])
def test_sparqlwrapper_and_rdflib_get_the_same_rows_in_every_format(site, fmt):
    wrapper_rows = _rows_from_wrapper(site, fmt)
    rdflib_rows = _rows_from_rdflib(site, fmt)
    reference = _rows_from_wrapper(site, JSON)
    assert len(reference) == 60
    assert wrapper_rows == rdflib_rows == reference


def test_get_and_both_post_forms_give_identical_answers(site, client):
    accept = {"Accept": "application/sparql-results+json"}
    get = client.get(site.url("sparql"), params={"query": SELECT}, headers=accept)
    form = client.post(site.url("sparql"), data={"query": SELECT}, headers=accept)
    direct = client.post(
        site.url("sparql"),
        content=SELECT.encode(),
        headers={**accept, "Content-Type": "application/sparql-query"},
    )
    assert get.status_code == form.status_code == direct.status_code == 200
    assert get.content == form.content == direct.content
    assert len(get.json()["results"]["bindings"]) == 60


@pytest.mark.parametrize(
    ("accept", "parse_as"),
    [
        ("text/turtle", "turtle"),
        ("application/n-triples", "nt"),
        ("application/ld+json", "json-ld"),
        ("application/rdf+xml", "xml"),
        ("application/trig", "trig"),
        ("application/n-quads", "nquads"),
    ],
)
def test_construct_in_every_graph_format_gives_the_same_graph(site, client, accept, parse_as):
    reference = rdflib.Graph().parse(
        data=client.get(
            site.url("sparql"),
            params={"query": CONSTRUCT},
            headers={"Accept": "application/n-triples"},
        ).text,
        format="nt",
    )
    response = client.get(
        site.url("sparql"), params={"query": CONSTRUCT}, headers={"Accept": accept}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(accept)
    if parse_as in ("trig", "nquads"):
        dataset = rdflib.Dataset()
        dataset.parse(data=response.text, format=parse_as)
        graph = rdflib.Graph()
        for s, p, o, _ in dataset.quads():
            graph.add((s, p, o))
    else:
        graph = rdflib.Graph().parse(data=response.text, format=parse_as)
    assert len(reference) > 50
    assert isomorphic(graph, reference)


ASK = "ASK { ?s ?p ?o }"


@pytest.mark.parametrize(
    ("query", "accept", "params", "status", "content_type"),
    [
        (SELECT, None, {}, 200, "application/sparql-results+json"),
        (CONSTRUCT, None, {}, 200, "text/turtle"),
        (ASK, None, {}, 200, "application/sparql-results+json"),
        (SELECT, "*/*", {}, 200, "application/sparql-results+json"),
        (CONSTRUCT, "*/*", {}, 200, "text/turtle"),
        (SELECT, "application/sparql-results+xml", {}, 200, "application/sparql-results+xml"),
        (SELECT, "text/csv;q=0.5, text/tab-separated-values", {}, 200, "text/tab-separated-values"),
        (SELECT, "text/*", {}, 200, "text/csv"),
        (CONSTRUCT, "text/*", {}, 200, "text/turtle"),
        (SELECT, "application/json", {}, 200, "application/sparql-results+json"),
        (CONSTRUCT, "application/json, application/ld+json;q=0.9", {}, 200, "application/ld+json"),
        (SELECT, "application/xml", {}, 200, "application/sparql-results+xml"),
        (CONSTRUCT, "application/xml", {}, 200, "application/rdf+xml"),
        (SELECT, "text/turtle", {}, 406, None),
        (CONSTRUCT, "application/sparql-results+json", {}, 406, None),
        (SELECT, "image/png", {}, 406, None),
        (SELECT, "image/png", {"format": "csv"}, 200, "text/csv"),
        (SELECT, "text/csv", {"format": "json"}, 200, "application/sparql-results+json"),
        (CONSTRUCT, None, {"format": "ntriples"}, 200, "application/n-triples"),
        (CONSTRUCT, None, {"format": "json"}, 200, "application/ld+json"),
        (
            ASK,
            "application/sparql-results+json;q=0, */*;q=0.1",
            {},
            200,
            "application/sparql-results+xml",
        ),
    ],
)
def test_content_negotiation(site, client, query, accept, params, status, content_type):
    headers = {"Accept": accept} if accept else {}
    response = client.get(site.url("sparql"), params={"query": query, **params}, headers=headers)
    assert response.status_code == status, response.text
    assert "Accept" in response.headers["vary"]
    if content_type:
        assert response.headers["content-type"].split(";")[0] == content_type
    else:
        assert "detail" in response.json() or response.text


def _count(client, site) -> int:
    response = client.get(site.url("sparql"), params={"query": COUNT_ALL})
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


INSERT = "INSERT DATA { <urn:x:s> <urn:x:p> <urn:x:o> }"


@pytest.mark.parametrize(
    "request_args",
    [
        {
            "method": "POST",
            "headers": {"Content-Type": "application/sparql-update"},
            "content": INSERT,
        },
        {"method": "POST", "data": {"update": INSERT}},
        {"method": "GET", "params": {"update": INSERT}},
        {"method": "GET", "params": {"query": INSERT}},
        {"method": "POST", "data": {"query": INSERT}},
        {
            "method": "POST",
            "headers": {"Content-Type": "application/sparql-query"},
            "content": INSERT,
        },
        {"method": "POST", "data": {"query": "DROP ALL"}},
        {"method": "POST", "data": {"query": "CLEAR DEFAULT"}},
        {"method": "POST", "data": {"query": "LOAD <http://127.0.0.1:9/x.ttl>"}},
        {"method": "POST", "data": {"query": "DELETE WHERE { ?s ?p ?o }"}},
    ],
)
def test_updates_in_any_form_are_refused_and_change_nothing(site, client, request_args):
    before = _count(client, site)
    args = dict(request_args)
    method = args.pop("method")
    response = client.request(method, site.url("sparql"), **args)
    assert 400 <= response.status_code < 500
    assert "read-only" in response.text
    assert _count(client, site) == before
    assert (
        client.get(site.url("sparql"), params={"query": "ASK { <urn:x:s> ?p ?o }"}).json()[
            "boolean"
        ]
        is False
    )


def test_a_malformed_query_gets_400_with_the_parsers_message(site, client):
    bad = "SELECT ?s WHERE { ?s ?p }"
    with pytest.raises(SyntaxError) as parser:
        pyoxigraph.Store().query(bad)
    response = client.get(site.url("sparql"), params={"query": bad})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert str(parser.value) in response.json()["detail"]
    text = client.get(site.url("sparql"), params={"query": bad}, headers={"Accept": "text/plain"})
    assert text.status_code == 400 and str(parser.value) in text.text
    assert "Traceback" not in text.text


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", SELECT),
        ("application/json", json.dumps({"query": SELECT})),
        (None, SELECT),
        ("application/sparql-query; charset=UTF-16", SELECT),
    ],
)
def test_bodies_in_other_media_types_get_415(site, client, content_type, body):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(
        site.url("sparql"),
        content=body.encode("utf-16" if content_type and "16" in content_type else "utf-8"),
        headers=headers,
    )
    assert response.status_code == 415


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_get_405(site, client, method):
    response = client.request(method, site.url("sparql") + "?" + urlencode({"query": ASK}))
    assert response.status_code == 405


def test_two_query_parameters_are_a_bad_request(site, client):
    response = client.get(site.url("sparql") + "?" + urlencode([("query", ASK), ("query", ASK)]))
    assert response.status_code == 400


# Every read endpoint: a page, a thing (303), a document, the dumps, the VoID, the
# ontology, the health check and the query endpoint.
READ_ENDPOINTS = [
    "",
    "id/country/jp",
    "doc/country/jp.html",
    "doc/country/jp.ttl",
    "dumps/",
    "dumps/SHA256SUMS",
    ".well-known/void",
    "def",
    "health",
    "sparql",
    "sparql?" + urlencode({"query": ASK}),
]


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_cors_allows_any_origin_without_credentials_and_answers_preflight(site, client, path):
    origin = {"Origin": "https://example.org"}
    for method in ("GET", "HEAD"):
        simple = client.request(method, site.url(path), headers=origin)
        assert simple.status_code in (200, 303), (method, path, simple.status_code)
        assert simple.headers["access-control-allow-origin"] == "*", (method, path)
        assert "access-control-allow-credentials" not in simple.headers, (method, path)
    # A request that does send credentials still gets the wildcard, never the echoed origin.
    with_cookie = client.get(site.url(path), headers={**origin, "Cookie": "session=x"})
    assert with_cookie.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in with_cookie.headers
    for method, request_headers in (("GET", "accept"), ("POST", "content-type")):
        preflight = client.options(
            site.url(path),
            headers={
                **origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": request_headers,
            },
        )
        assert preflight.status_code == 200, (path, method)
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in preflight.headers
        assert method in preflight.headers["access-control-allow-methods"]
        assert request_headers in preflight.headers["access-control-allow-headers"].lower()


@pytest.mark.parametrize("path", ["def", "doc/country/jp.html", "doc/country/jp.ttl"])
def test_documents_are_gzipped_when_the_client_accepts_it(site, client, path):
    plain = client.get(site.url(path), headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert "accept-encoding" in plain.headers["vary"].lower()
    packed = client.get(site.url(path), headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in packed.headers["vary"].lower()
    assert int(packed.headers["content-length"]) < len(plain.content)
    assert packed.content == plain.content  # httpx decoded it: the same document


def test_query_results_carry_an_etag_and_revalidate_with_304(site, client):
    first = client.get(site.url("sparql"), params={"query": SELECT})
    etag = first.headers["etag"]
    again = client.get(
        site.url("sparql"), params={"query": SELECT}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b""
    other_format = client.get(
        site.url("sparql"),
        params={"query": SELECT},
        headers={"If-None-Match": etag, "Accept": "text/csv"},
    )
    assert other_format.status_code == 200 and other_format.headers["etag"] != etag


def test_results_are_gzipped_when_the_client_accepts_it(site):
    with httpx.Client(headers={"Accept-Encoding": "gzip"}) as gzip_client:
        response = gzip_client.get(site.url("sparql"), params={"query": CONSTRUCT})
    assert response.headers["content-encoding"] == "gzip"
    assert rdflib.Graph().parse(data=response.text, format="turtle")


def test_protocol_dataset_selects_the_named_graph(site, client, build_manifest):
    ontology = "https://w3id.org/defence-engagements/graph/ontology"
    response = client.get(
        site.url("sparql"), params={"query": COUNT_ALL, "default-graph-uri": ontology}
    )
    count = int(response.json()["results"]["bindings"][0]["n"]["value"])
    assert count == build_manifest["graphs"][ontology]
    assert _count(client, site) >= count


def test_the_union_default_graph_counts_every_graph(site, client, build_manifest):
    assert _count(client, site) == sum(build_manifest["graphs"].values())


def test_a_timeout_parameter_must_be_a_number(site, client):
    response = client.get(site.url("sparql"), params={"query": ASK, "timeout": "soon"})
    assert response.status_code == 400


def test_service_description_parses_and_names_the_endpoint(site, client):
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    endpoint = rdflib.URIRef(site.url("sparql"))
    for accept, fmt in [
        ("text/turtle", "turtle"),
        ("application/rdf+xml", "xml"),
        ("application/ld+json", "json-ld"),
    ]:
        response = client.get(site.url("sparql"), headers={"Accept": accept})
        assert response.status_code == 200
        graph = rdflib.Graph().parse(data=response.text, format=fmt)
        assert (endpoint, sd.endpoint, endpoint) in graph
        assert (endpoint, sd.supportedLanguage, sd.SPARQL11Query) in graph
        assert (endpoint, sd.feature, sd.UnionDefaultGraph) in graph


def test_browsers_get_the_query_page_with_the_example_queries(site, client, repo_root):
    response = client.get(site.url("sparql"), headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for path in sorted((repo_root / "queries").glob("*.rq")):
        first = next(line for line in path.read_text(encoding="utf-8").splitlines() if line)
        assert first.lstrip("# ").strip() in response.text.replace("&#39;", "'")
    assert "https://" not in response.text.split("<main")[0]  # nothing loaded from elsewhere


def test_a_browser_following_a_query_link_gets_the_query_page(site, client):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    page = client.get(site.url("sparql"), params={"query": ASK}, headers={"Accept": browser})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-autorun="true"' in page.text and "ASK { ?s ?p ?o }" in page.text
    forced = client.get(
        site.url("sparql"), params={"query": ASK, "format": "json"}, headers={"Accept": browser}
    )
    assert forced.json()["boolean"] is True


def test_a_repeated_answer_comes_from_the_memo_and_equals_the_first(site, client):
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s ?p ?o }} # memo {uuid.uuid4()}"
    first = client.get(site.url("sparql"), params={"query": query})
    assert first.status_code == 200 and first.headers["x-cache"] == "miss"
    again = client.get(site.url("sparql"), params={"query": query})
    assert again.headers["x-cache"] == "hit"
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert again.headers["content-type"] == first.headers["content-type"]
    as_csv = client.get(site.url("sparql"), params={"query": query}, headers={"Accept": "text/csv"})
    assert as_csv.headers["x-cache"] == "miss" and as_csv.text.startswith("n\r\n")


def test_volatile_and_large_answers_are_not_remembered(site, client):
    volatile = client.get(site.url("sparql"), params={"query": "SELECT (NOW() AS ?t) {}"})
    assert "x-cache" not in volatile.headers
    assert volatile.headers["cache-control"] == "no-store"
    everything = f"SELECT * WHERE {{ ?s ?p ?o }} # large {uuid.uuid4()}"
    for _ in range(2):
        large = client.get(site.url("sparql"), params={"query": everything})
        assert len(large.content) > load_settings().answer_memo_entry_bytes
        assert large.headers["x-cache"] == "miss"
