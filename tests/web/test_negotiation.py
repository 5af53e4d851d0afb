"""Accept → format, as a table of cases (q-values, wildcards, aliases, 406, format=)."""

from __future__ import annotations

import pytest

from defence_engagements.web.negotiation import (
    DOCUMENT_OFFER,
    GRAPH_OFFER,
    RDF_OFFER,
    RESULTS_OFFER,
    negotiate,
    negotiate_query_formats,
    prefers_html,
)

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"

CASES = [
    # (accept, offer, expected short name or None)
    (None, RESULTS_OFFER, "json"),
    ("", GRAPH_OFFER, "turtle"),
    ("*/*", RESULTS_OFFER, "json"),
    ("*/*", GRAPH_OFFER, "turtle"),
    ("application/sparql-results+xml", RESULTS_OFFER, "xml"),
    ("application/xml", RESULTS_OFFER, "xml"),
    ("application/xml", GRAPH_OFFER, "rdfxml"),
    ("application/json", RESULTS_OFFER, "json"),
    ("text/csv", RESULTS_OFFER, "csv"),
    ("text/tab-separated-values", RESULTS_OFFER, "tsv"),
    ("text/*", RESULTS_OFFER, "csv"),
    ("text/*", GRAPH_OFFER, "turtle"),
    ("application/n-triples", GRAPH_OFFER, "ntriples"),
    ("text/plain", GRAPH_OFFER, "ntriples"),
    ("application/ld+json", GRAPH_OFFER, "jsonld"),
    ("application/trig", GRAPH_OFFER, "trig"),
    ("application/n-quads", GRAPH_OFFER, "nquads"),
    ("text/turtle;q=0.5, application/ld+json;q=0.9", GRAPH_OFFER, "jsonld"),
    ("text/turtle;q=0.5, */*;q=0.1", GRAPH_OFFER, "turtle"),
    ("application/sparql-results+json;q=0, */*", RESULTS_OFFER, "xml"),
    ("text/csv;q=0.2, application/sparql-results+xml;q=0.2", RESULTS_OFFER, "xml"),
    ("text/html", RESULTS_OFFER, None),
    ("image/png", GRAPH_OFFER, None),
    ("application/sparql-results+json", GRAPH_OFFER, None),
    ("text/turtle", RESULTS_OFFER, None),
    ("this is not a media range;;", RESULTS_OFFER, "json"),
    (BROWSER, DOCUMENT_OFFER, "html"),
    ("text/turtle", DOCUMENT_OFFER, "turtle"),
    ("application/rdf+xml", RDF_OFFER, "rdfxml"),
    (BROWSER, RDF_OFFER, "rdfxml"),
]


@pytest.mark.parametrize(("accept", "offer", "expected"), CASES)
def test_negotiate_picks_the_best_offered_format(accept, offer, expected):
    chosen = negotiate(accept, offer)
    assert (chosen.name if chosen else None) == expected


@pytest.mark.parametrize(
    ("accept", "override", "results", "graph"),
    [
        (None, None, "json", "turtle"),
        ("text/csv", None, "csv", None),
        ("text/turtle", None, None, "turtle"),
        ("application/sparql-results+json, text/turtle;q=0.9", None, "json", "turtle"),
        (None, "xml", "xml", "rdfxml"),
        (None, "json", "json", "jsonld"),
        (None, "csv", "csv", "turtle"),
        ("text/html", "tsv", "tsv", None),
        (None, "ntriples", "json", "ntriples"),
        (None, "text/turtle", "json", "turtle"),
        (None, "application/sparql-results+xml", "xml", "rdfxml"),
        ("text/csv", "no-such-format", "csv", None),
    ],
)
def test_query_formats_negotiate_both_kinds_and_format_parameter_wins(
    accept, override, results, graph
):
    chosen_results, chosen_graph = negotiate_query_formats(accept, override)
    assert (chosen_results.name if chosen_results else None) == results
    assert (chosen_graph.name if chosen_graph else None) == graph


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (BROWSER, True),
        ("text/html", True),
        ("*/*", False),
        (None, False),
        ("application/sparql-results+json, text/html;q=0.5", False),
        ("text/turtle, text/html;q=0.9", False),
    ],
)
def test_prefers_html_only_when_html_ranks_first(accept, expected):
    assert prefers_html(accept) is expected
