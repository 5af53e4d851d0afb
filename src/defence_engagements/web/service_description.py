"""The SPARQL 1.1 Service Description of ``/sparql``, with the serving URL as endpoint."""

from __future__ import annotations

import pyoxigraph

from defence_engagements import formats
from defence_engagements.formats import Format
from defence_engagements.namespaces import PREFIXES
from defence_engagements.web.published_build import BuildInfo
from defence_engagements.web.urls import UrlMapper

_W3C_FORMATS = {
    "json": "SPARQL_Results_JSON",
    "xml": "SPARQL_Results_XML",
    "csv": "SPARQL_Results_CSV",
    "tsv": "SPARQL_Results_TSV",
    "turtle": "Turtle",
    "ntriples": "N-Triples",
    "jsonld": "JSON-LD",
    "rdfxml": "RDF_XML",
    "trig": "TriG",
    "nquads": "N-Quads",
}


_DESCRIPTION = (
    "Read-only SPARQL 1.1 query endpoint. The default graph is the union of all named "
    "graphs; OWL 2 RL inferences are materialised in the inferred graph."
)


def service_description_turtle(urls: UrlMapper, build: BuildInfo) -> str:
    endpoint = urls.url("sparql")
    result_formats = ", ".join(
        f"<http://www.w3.org/ns/formats/{_W3C_FORMATS[f.name]}>"
        for f in (*formats.RESULTS_FORMATS, *formats.GRAPH_FORMATS, *formats.DATASET_FORMATS)
    )
    named = "\n".join(
        f"""    sd:namedGraph [ a sd:NamedGraph ; sd:name <{iri}> ;
        sd:graph [ a sd:Graph ; void:triples {count} ] ] ;"""
        for iri, count in sorted(build.graphs.items())
    )
    return f"""@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix void: <http://rdfs.org/ns/void#> .
@prefix dcterms: <http://purl.org/dc/terms/> .

<{endpoint}> a sd:Service ;
  sd:endpoint <{endpoint}> ;
  dcterms:title "defence-engagements SPARQL endpoint"@en ;
  dcterms:description "{_DESCRIPTION}"@en ;
  sd:supportedLanguage sd:SPARQL11Query ;
  sd:feature sd:UnionDefaultGraph, sd:BasicFederatedQuery ;
  sd:defaultEntailmentRegime <http://www.w3.org/ns/entailment/Simple> ;
  sd:resultFormat {result_formats} ;
  sd:defaultDataset [ a sd:Dataset ;
    void:sparqlEndpoint <{endpoint}> ;
    sd:defaultGraph [ a sd:Graph ; void:triples {build.triples} ] ;
{named}
  ] .
"""


def service_description(urls: UrlMapper, build: BuildInfo, fmt: Format) -> bytes:
    text = service_description_turtle(urls, build)
    if fmt is formats.TURTLE:
        return text.encode("utf-8")
    triples = [quad.triple for quad in pyoxigraph.parse(text, format=pyoxigraph.RdfFormat.TURTLE)]
    return pyoxigraph.serialize(triples, format=fmt.oxigraph_rdf, prefixes=PREFIXES) or b""
