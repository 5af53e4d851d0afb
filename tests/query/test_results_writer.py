"""The SPARQL JSON writer: the same text as json.dumps of the W3C term objects, built faster."""

from __future__ import annotations

import json

import pyoxigraph as ox

from defence_engagements import formats
from defence_engagements.query.results_writer import _json_term, write_solutions

EX = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"


def _store() -> ox.Store:
    store = ox.Store()
    subject = ox.NamedNode(EX + "a")
    objects = [
        ox.Literal('quote " backslash \\ newline \n tab \t nul \x00 é ☃ \u2028 <&>'),
        ox.Literal("chat", language="fr"),
        ox.Literal("مرحبا", language="ar", direction=ox.BaseDirection.RTL),
        ox.Literal("5", datatype=ox.NamedNode(XSD + "integer")),
        ox.Literal(""),
        ox.NamedNode(EX + "with%20escapes?q=é"),
        ox.BlankNode("b1"),
    ]
    for index, value in enumerate(objects):
        store.add(ox.Quad(subject, ox.NamedNode(f"{EX}p{index}"), value))
    return store


def _reference(solutions: ox.QuerySolutions) -> str:
    """The writer's output as json.dumps of the term dictionaries gives it."""
    variables = [v.value for v in solutions.variables]
    bindings = [
        json.dumps(
            {name: _json_term(term) for name, term in zip(variables, row, strict=True) if term},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for row in solutions
    ]
    head = json.dumps(variables, separators=(",", ":"))
    return '{"head":{"vars":' + head + '},"results":{"bindings":[' + ",".join(bindings) + "]}}"


def test_json_is_byte_for_byte_what_json_dumps_gives() -> None:
    store = _store()
    queries = [
        "SELECT ?p ?o WHERE { ?s ?p ?o } ORDER BY ?p",
        # an unbound variable, and a triple term
        f"SELECT ?o ?missing ?t WHERE {{ ?s ?p ?o OPTIONAL {{ ?s <{EX}none> ?missing }} "
        "BIND(<<( ?s ?p ?o )>> AS ?t) } ORDER BY ?p",
    ]
    for query in queries:
        written = write_solutions(store.query(query), formats.RESULTS_JSON, 1000)
        assert written.body.decode("utf-8") == _reference(store.query(query))
        assert (written.rows, written.truncated) == (7, False)
        parsed = json.loads(written.body)
        assert len(parsed["results"]["bindings"]) == 7
    rtl = json.loads(write_solutions(store.query(queries[0]), formats.RESULTS_JSON, 1000).body)
    assert {"type": "literal", "value": "مرحبا", "xml:lang": "ar", "its:dir": "rtl"} in [
        row["o"] for row in rtl["results"]["bindings"]
    ]


def test_json_says_when_it_was_cut() -> None:
    written = write_solutions(
        _store().query("SELECT ?p ?o WHERE { ?s ?p ?o }"), formats.RESULTS_JSON, 3
    )
    parsed = json.loads(written.body)
    assert (written.rows, written.truncated) == (3, True)
    assert len(parsed["results"]["bindings"]) == 3
    assert parsed["truncated"] is True and "first 3 solutions" in parsed["warning"]
