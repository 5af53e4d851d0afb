"""Reading SPARQL Protocol requests: forms, bodies, datasets, and updates refused."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from defence_engagements.errors import UpdateNotAllowedError
from defence_engagements.web.errors import ProtocolError, UnsupportedMediaTypeError
from defence_engagements.web.protocol import looks_like_update, read_protocol_request

Q = "SELECT * WHERE { ?s ?p ?o }"


def test_get_reads_query_and_dataset():
    request = read_protocol_request(
        "GET",
        urlencode(
            [
                ("query", Q),
                ("default-graph-uri", "http://a"),
                ("default-graph-uri", "http://b"),
                ("named-graph-uri", "http://c"),
            ]
        ),
        None,
        b"",
    )
    assert request.query == Q
    assert request.default_graph_uris == ("http://a", "http://b")
    assert request.named_graph_uris == ("http://c",)


def test_get_without_query_asks_for_the_service_description():
    assert read_protocol_request("GET", "", None, b"").query is None


def test_post_form_and_direct_post_read_the_same_query():
    form = read_protocol_request(
        "POST", "", "application/x-www-form-urlencoded", urlencode({"query": Q}).encode()
    )
    direct = read_protocol_request(
        "POST",
        "default-graph-uri=http%3A%2F%2Fa",
        "application/sparql-query; charset=UTF-8",
        Q.encode(),
    )
    assert form.query == direct.query == Q
    assert direct.default_graph_uris == ("http://a",)


def test_two_queries_are_a_protocol_error():
    with pytest.raises(ProtocolError):
        read_protocol_request("GET", urlencode([("query", Q), ("query", Q)]), None, b"")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json", "text/turtle"])
def test_unknown_body_types_are_unsupported(content_type):
    with pytest.raises(UnsupportedMediaTypeError):
        read_protocol_request("POST", "", content_type, Q.encode())


def test_a_query_body_in_utf16_is_unsupported():
    with pytest.raises(UnsupportedMediaTypeError):
        read_protocol_request(
            "POST", "", "application/sparql-query; charset=UTF-16", Q.encode("utf-16")
        )


@pytest.mark.parametrize(
    ("method", "query_string", "content_type", "body"),
    [
        ("GET", "update=" + "INSERT%20DATA%20%7B%7D", None, b""),
        ("POST", "", "application/x-www-form-urlencoded", b"update=CLEAR%20ALL"),
        ("POST", "", "application/sparql-update", b"DROP ALL"),
        ("POST", "", "application/sparql-query", b"INSERT DATA { <a:a> <a:b> <a:c> }"),
        ("GET", urlencode({"query": "PREFIX x: <http://x/> DELETE WHERE { ?s ?p ?o }"}), None, b""),
        ("GET", urlencode({"query": "# a comment\nLOAD <http://example.org/x>"}), None, b""),
    ],
)
def test_updates_in_any_form_are_refused(method, query_string, content_type, body):
    with pytest.raises(UpdateNotAllowedError):
        read_protocol_request(method, query_string, content_type, body)


@pytest.mark.parametrize(
    ("text", "is_update"),
    [
        ("SELECT * { ?s ?p ?o }", False),
        ('SELECT * { ?s ?p "INSERT" }', False),
        ("# DELETE everything\nASK {}", False),
        ("PREFIX insert: <http://x/> SELECT * { ?s insert:p ?o }", False),
        ("BASE <http://x/> CONSTRUCT WHERE { ?s ?p ?o }", False),
        ("insert data { <a:a> <a:b> <a:c> }", True),
        ("WITH <http://g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", True),
        ("PREFIX : <http://x/>\nCLEAR GRAPH :g", True),
    ],
)
def test_looks_like_update(text, is_update):
    assert looks_like_update(text) is is_update
