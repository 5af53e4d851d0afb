"""The VoID + DCAT description of a build, computed by COUNT queries over its store.

The described dataset is the union of the content graphs (ontology, data,
inferred, links) — what a plain query sees, minus this description itself. Every
figure is the answer of a SPARQL query over the store, so it cannot disagree
with what users count. URLs are canonical (``…/sparql``, ``…/dumps/<file>``);
the server rewrites them to the URL it serves at.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import pyoxigraph as ox

from defence_engagements.namespaces import (
    GRAPH_DATA,
    GRAPH_INFERRED,
    GRAPH_LINKS,
    GRAPH_ONTOLOGY,
    ID,
    ONTOLOGY_IRI,
    PREFIXES,
    WIKIDATA_ENTITY,
)
from defence_engagements.pipeline.dumps import DUMPS

CONTENT_GRAPHS = (GRAPH_ONTOLOGY, GRAPH_DATA, GRAPH_INFERRED, GRAPH_LINKS)
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
WIKIDATA_DATASET = "http://www.wikidata.org/"

VOID = PREFIXES["void"]
DCAT = PREFIXES["dcat"]
DCTERMS = PREFIXES["dcterms"]
RDF = PREFIXES["rdf"]
XSD = PREFIXES["xsd"]
OWL = PREFIXES["owl"]
SKOS = PREFIXES["skos"]
FOAF = PREFIXES["foaf"]


def _from_content(graphs: Iterable[str] = CONTENT_GRAPHS) -> str:
    return " ".join(f"FROM <{g}>" for g in graphs)


# The queries behind each figure, shared with the tests that check them.
TRIPLES = "SELECT (COUNT(*) AS ?n) {from} WHERE {{ SELECT DISTINCT ?s ?p ?o WHERE {{ ?s ?p ?o }} }}"
ENTITIES = (
    "SELECT (COUNT(DISTINCT ?s) AS ?n) {from} WHERE {{ ?s ?p ?o "
    'FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{space}")) }}'
)
CLASSES = "SELECT (COUNT(DISTINCT ?c) AS ?n) {from} WHERE {{ ?s a ?c }}"
PROPERTIES = "SELECT (COUNT(DISTINCT ?p) AS ?n) {from} WHERE {{ ?s ?p ?o }}"
DISTINCT_SUBJECTS = "SELECT (COUNT(DISTINCT ?s) AS ?n) {from} WHERE {{ ?s ?p ?o }}"
DISTINCT_OBJECTS = "SELECT (COUNT(DISTINCT ?o) AS ?n) {from} WHERE {{ ?s ?p ?o }}"
CLASS_PARTITIONS = (
    "SELECT ?c (COUNT(DISTINCT ?s) AS ?n) {from} WHERE {{ ?s a ?c }} GROUP BY ?c ORDER BY ?c"
)
PROPERTY_PARTITIONS = (
    "SELECT ?p (COUNT(*) AS ?n) {from} WHERE {{ SELECT DISTINCT ?s ?p ?o WHERE {{ ?s ?p ?o }} }} "
    "GROUP BY ?p ORDER BY ?p"
)
LINKSET_TRIPLES = "SELECT (COUNT(*) AS ?n) FROM <{graph}> WHERE {{ ?s <{predicate}> ?o }}"


def rdf_dumps(names: Iterable[str]) -> list[str]:
    """The names among ``names`` that are RDF dumps of the described dataset.

    A void:dataDump holds (part of) the content graphs: the checksum list is not
    RDF, and void.ttl holds only this description, not the dataset.
    """
    content = set(CONTENT_GRAPHS)
    return sorted(n for n in names if n in DUMPS and content.intersection(DUMPS[n][0]))


def dataset_iri(base: str) -> str:
    return base + ".well-known/void#dataset"


def count(store: ox.Store, query: str) -> int:
    return int(next(iter(store.query(query)))["n"].value)


def describe(
    store: ox.Store,
    *,
    base: str,
    version: str,
    modified: str,
    dumps: Iterable[str],
    title: str = "Defence engagements",
) -> list[ox.Triple]:
    """The VoID/DCAT triples for the content graphs of ``store``."""
    frm = _from_content()
    description = base + ".well-known/void"
    dataset = ox.NamedNode(dataset_iri(base))
    out: list[ox.Triple] = []

    def add(subject: ox.NamedNode, predicate: str, obj: ox.Term) -> None:
        out.append(ox.Triple(subject, ox.NamedNode(predicate), obj))

    def integer(value: int) -> ox.Literal:
        return ox.Literal(str(value), datatype=ox.NamedNode(XSD + "integer"))

    def iri(value: str) -> ox.NamedNode:
        return ox.NamedNode(value)

    doc = iri(description)
    add(doc, RDF + "type", iri(VOID + "DatasetDescription"))
    add(
        doc,
        DCTERMS + "title",
        ox.Literal("VoID description of the defence-engagements dataset", language="en"),
    )
    add(doc, FOAF + "primaryTopic", dataset)

    add(dataset, RDF + "type", iri(VOID + "Dataset"))
    add(dataset, RDF + "type", iri(DCAT + "Dataset"))
    add(dataset, DCTERMS + "title", ox.Literal(title, language="en"))
    add(
        dataset,
        DCTERMS + "description",
        ox.Literal(
            "Meetings, visits, conferences, summits, agreements and announcements between "
            "defence officials and organisations, with evidence quotes, sources and "
            "links to Wikidata.",
            language="en",
        ),
    )
    add(dataset, DCTERMS + "license", iri(LICENSE))
    add(dataset, DCTERMS + "modified", ox.Literal(modified, datatype=iri(XSD + "dateTime")))
    add(dataset, OWL + "versionInfo", ox.Literal(version))
    add(dataset, DCAT + "version", ox.Literal(version))
    add(dataset, VOID + "sparqlEndpoint", iri(base + "sparql"))
    add(dataset, VOID + "uriSpace", ox.Literal(ID))
    add(dataset, VOID + "uriLookupEndpoint", iri(base + "id/"))
    for name in rdf_dumps(dumps):
        add(dataset, VOID + "dataDump", iri(f"{base}dumps/{name}"))
    for vocabulary in _vocabularies(store, frm):
        add(dataset, VOID + "vocabulary", iri(vocabulary))

    add(dataset, VOID + "triples", integer(count(store, TRIPLES.format(**{"from": frm}))))
    add(
        dataset,
        VOID + "entities",
        integer(count(store, ENTITIES.format(**{"from": frm}, space=ID))),
    )
    add(dataset, VOID + "classes", integer(count(store, CLASSES.format(**{"from": frm}))))
    add(dataset, VOID + "properties", integer(count(store, PROPERTIES.format(**{"from": frm}))))
    add(
        dataset,
        VOID + "distinctSubjects",
        integer(count(store, DISTINCT_SUBJECTS.format(**{"from": frm}))),
    )
    add(
        dataset,
        VOID + "distinctObjects",
        integer(count(store, DISTINCT_OBJECTS.format(**{"from": frm}))),
    )

    for row in store.query(CLASS_PARTITIONS.format(**{"from": frm})):
        cls, n = row["c"], int(row["n"].value)
        if not isinstance(cls, ox.NamedNode):
            continue
        partition = iri(f"{description}#class-{_slug(cls.value)}")
        add(dataset, VOID + "classPartition", partition)
        add(partition, VOID + "class", cls)
        add(partition, VOID + "entities", integer(n))
    for row in store.query(PROPERTY_PARTITIONS.format(**{"from": frm})):
        prop, n = row["p"], int(row["n"].value)
        partition = iri(f"{description}#property-{_slug(prop.value)}")
        add(dataset, VOID + "propertyPartition", partition)
        add(partition, VOID + "property", prop)
        add(partition, VOID + "triples", integer(n))

    wikidata = iri(WIKIDATA_DATASET)
    add(wikidata, RDF + "type", iri(VOID + "Dataset"))
    add(wikidata, DCTERMS + "title", ox.Literal("Wikidata", language="en"))
    add(wikidata, VOID + "uriSpace", ox.Literal(WIKIDATA_ENTITY))
    add(wikidata, VOID + "sparqlEndpoint", iri("https://query.wikidata.org/sparql"))
    for predicate, slug in ((OWL + "sameAs", "same-as"), (SKOS + "exactMatch", "exact-match")):
        linkset = iri(f"{description}#wikidata-{slug}")
        add(dataset, VOID + "subset", linkset)
        add(linkset, RDF + "type", iri(VOID + "Linkset"))
        add(linkset, VOID + "subjectsTarget", dataset)
        add(linkset, VOID + "objectsTarget", wikidata)
        add(linkset, VOID + "target", dataset)
        add(linkset, VOID + "target", wikidata)
        add(linkset, VOID + "linkPredicate", iri(predicate))
        n = count(store, LINKSET_TRIPLES.format(graph=GRAPH_LINKS, predicate=predicate))
        add(linkset, VOID + "triples", integer(n))
    return out


def _vocabularies(store: ox.Store, frm: str) -> list[str]:
    """The known namespaces of the classes and properties the dataset uses."""
    used: set[str] = set()
    query = f"SELECT DISTINCT ?t {frm} WHERE {{ {{ ?s ?t ?o }} UNION {{ ?s a ?t }} }}"
    namespaces = sorted(set(PREFIXES.values()) - {ID, WIKIDATA_ENTITY}, key=len, reverse=True)
    for row in store.query(query):
        term = row["t"]
        if isinstance(term, ox.NamedNode):
            for namespace in namespaces:
                if term.value.startswith(namespace):
                    used.add(ONTOLOGY_IRI if namespace.startswith(ONTOLOGY_IRI) else namespace)
                    break
    return sorted(used)


def _slug(iri: str) -> str:
    for prefix, namespace in sorted(PREFIXES.items(), key=lambda kv: -len(kv[1])):
        local = iri[len(namespace) :]
        if iri.startswith(namespace) and re.fullmatch(r"[A-Za-z0-9_-]+", local):
            return f"{prefix}-{local}"
    return hashlib.sha256(iri.encode()).hexdigest()[:16]
