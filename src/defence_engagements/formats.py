"""The format table: one row per serialisation, used by dumps, documents and negotiation.

As in Oxigraph's ``RdfFormat``, each format owns its media type, its aliases, its
file extension and its short name (the ``format=`` parameter), so no other module
spells a media type.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import pyoxigraph


class FormatKind(Enum):
    GRAPH = "graph"  # RDF triples (CONSTRUCT/DESCRIBE, documents, dumps)
    DATASET = "dataset"  # RDF quads (TriG, N-Quads)
    RESULTS = "results"  # SPARQL SELECT/ASK results
    HTML = "html"


@dataclass(frozen=True)
class Format:
    name: str  # short name, the value of ``format=``
    media_type: str
    extension: str  # without dot
    kind: FormatKind
    aliases: tuple[str, ...] = ()

    @property
    def media_types(self) -> tuple[str, ...]:
        return (self.media_type, *self.aliases)

    @property
    def content_type(self) -> str:
        textual = self.media_type.startswith("text/") or self.media_type.endswith(
            ("+json", "+xml", "/json", "/xml", "/n-triples", "/n-quads", "/trig", "/ld+json")
        )
        return f"{self.media_type}; charset=utf-8" if textual else self.media_type

    @property
    def oxigraph_rdf(self) -> pyoxigraph.RdfFormat:
        return _OXIGRAPH_RDF[self.name]

    @property
    def oxigraph_results(self) -> pyoxigraph.QueryResultsFormat:
        return _OXIGRAPH_RESULTS[self.name]


TURTLE = Format("turtle", "text/turtle", "ttl", FormatKind.GRAPH, ("application/x-turtle",))
NTRIPLES = Format("ntriples", "application/n-triples", "nt", FormatKind.GRAPH, ("text/plain",))
JSONLD = Format("jsonld", "application/ld+json", "jsonld", FormatKind.GRAPH)
RDFXML = Format("rdfxml", "application/rdf+xml", "rdf", FormatKind.GRAPH, ("application/xml",))
TRIG = Format("trig", "application/trig", "trig", FormatKind.DATASET)
NQUADS = Format("nquads", "application/n-quads", "nq", FormatKind.DATASET)
RESULTS_JSON = Format(
    "json", "application/sparql-results+json", "srj", FormatKind.RESULTS, ("application/json",)
)
RESULTS_XML = Format(
    "xml", "application/sparql-results+xml", "srx", FormatKind.RESULTS, ("application/xml",)
)
RESULTS_CSV = Format("csv", "text/csv", "csv", FormatKind.RESULTS)
RESULTS_TSV = Format("tsv", "text/tab-separated-values", "tsv", FormatKind.RESULTS)
HTML = Format("html", "text/html", "html", FormatKind.HTML, ("application/xhtml+xml",))

GRAPH_FORMATS: tuple[Format, ...] = (TURTLE, NTRIPLES, JSONLD, RDFXML)
DATASET_FORMATS: tuple[Format, ...] = (TRIG, NQUADS)
RESULTS_FORMATS: tuple[Format, ...] = (RESULTS_JSON, RESULTS_XML, RESULTS_CSV, RESULTS_TSV)
ALL_FORMATS: tuple[Format, ...] = (*GRAPH_FORMATS, *DATASET_FORMATS, *RESULTS_FORMATS, HTML)

_OXIGRAPH_RDF = {
    "turtle": pyoxigraph.RdfFormat.TURTLE,
    "ntriples": pyoxigraph.RdfFormat.N_TRIPLES,
    "jsonld": pyoxigraph.RdfFormat.JSON_LD,
    "rdfxml": pyoxigraph.RdfFormat.RDF_XML,
    "trig": pyoxigraph.RdfFormat.TRIG,
    "nquads": pyoxigraph.RdfFormat.N_QUADS,
}
_OXIGRAPH_RESULTS = {
    "json": pyoxigraph.QueryResultsFormat.JSON,
    "xml": pyoxigraph.QueryResultsFormat.XML,
    "csv": pyoxigraph.QueryResultsFormat.CSV,
    "tsv": pyoxigraph.QueryResultsFormat.TSV,
}


def by_name(name: str) -> Format | None:
    """A ``format=`` value (short name, extension or media type) → Format."""
    wanted = name.strip().lower()
    for fmt in ALL_FORMATS:
        if wanted in (fmt.name, fmt.extension, *fmt.media_types):
            return fmt
    return None


def by_extension(extension: str, kinds: tuple[FormatKind, ...] | None = None) -> Format | None:
    for fmt in ALL_FORMATS:
        if fmt.extension == extension.lstrip(".") and (kinds is None or fmt.kind in kinds):
            return fmt
    return None
