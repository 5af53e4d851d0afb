"""The W3C SPARQL 1.1 Protocol test manifest (../shared/w3c/protocol), run as written
against a real server holding the manifest's graphs.

Each ht:Request is sent with its method, path (``/sparql/`` → our ``/sparql``),
headers and body; the status class, the result format and the ASK answer are
checked. Skipped, with reasons: the tests that expect an update to succeed, as this
endpoint is read-only by design (refusing updates is tested in test_sparql_endpoint).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import rdflib
from rdflib.namespace import Namespace

MANIFEST = (
    Path(__file__).resolve().parents[2].parent / "shared" / "w3c" / "protocol" / "manifest.ttl"
)
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
HTS = "http://www.w3.org/2011/http-statusCodes#StatusCode"

READ_ONLY = "read-only endpoint: updates are refused by design (see test_sparql_endpoint)"
SKIPS = {
    "update_dataset_default_graph": READ_ONLY,
    "update_dataset_default_graphs": READ_ONLY,
    "update_dataset_named_graphs": READ_ONLY,
    "update_dataset_full": READ_ONLY,
    "update_post_form": READ_ONLY,
    "update_post_direct": READ_ONLY,
    "update_base_uri": READ_ONLY,
}
RESULTS_TYPES = {
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
}
RDF_TYPES = {
    "text/turtle",
    "application/n-triples",
    "application/ld+json",
    "application/rdf+xml",
}


def _manifest() -> tuple[rdflib.Graph, list[rdflib.URIRef]]:
    graph = rdflib.Graph().parse(MANIFEST, format="turtle")
    head = next(graph.objects(None, MF.entries), None)
    return graph, list(rdflib.collection.Collection(graph, head)) if head else []


GRAPH, ENTRIES = _manifest()


def _name(entry: rdflib.URIRef) -> str:
    return str(entry).rsplit("#", 1)[-1]


def _requests(entry: rdflib.URIRef) -> list[rdflib.term.Node]:
    action = GRAPH.value(entry, MF.action)
    head = GRAPH.value(action, HT.requests)
    return list(rdflib.collection.Collection(GRAPH, head))


def _send(client: httpx.Client, base: str, request: rdflib.term.Node) -> httpx.Response:
    method = str(GRAPH.value(request, HT.methodName))
    path = str(GRAPH.value(request, HT.absolutePath)).replace("/sparql/", "/sparql", 1)
    headers = {}
    head = GRAPH.value(request, HT.headers)
    for header in rdflib.collection.Collection(GRAPH, head) if head else []:
        headers[str(GRAPH.value(header, HT.fieldName))] = str(GRAPH.value(header, HT.fieldValue))
    body = GRAPH.value(request, HT.body)
    content = None
    if body is not None:
        chars = str(GRAPH.value(body, CNT.chars))
        encoding = str(GRAPH.value(body, CNT.characterEncoding) or "UTF-8")
        content = chars.encode(encoding)
    return client.request(method, base.rstrip("/") + path, headers=headers, content=content)


def _check(response: httpx.Response, expected: rdflib.term.Node) -> None:
    classes = {str(s).removeprefix(HTS) for s in GRAPH.objects(expected, MF.expectedStatus)}
    assert f"{response.status_code // 100}xx" in classes, (response.status_code, response.text)
    media_type = response.headers.get("content-type", "").split(";")[0]
    expected_format = GRAPH.value(expected, MF.expectedFormat)
    if expected_format is not None:
        wanted = RDF_TYPES if str(expected_format) == "RDF" else RESULTS_TYPES
        assert media_type in wanted
    expected_boolean = GRAPH.value(expected, MF.expectedBoolean)
    if expected_boolean is not None:
        assert media_type == "application/sparql-results+json"
        assert json.loads(response.text)["boolean"] is expected_boolean.toPython()


@pytest.mark.parametrize("entry", ENTRIES, ids=_name)
def test_w3c_protocol_manifest(w3c_site, entry):
    if _name(entry) in SKIPS:
        pytest.skip(SKIPS[_name(entry)])
    with httpx.Client(timeout=30) as client:
        for request in _requests(entry):
            _check(_send(client, w3c_site.base_url, request), GRAPH.value(request, HT.resp))


def test_the_manifest_was_read():
    assert len(ENTRIES) == 34
