"""The VoID + DCAT description of a build, computed by COUNT queries over its store.

The described dataset is the union of the content graphs (ontology, data,
inferred, links) — what a plain query sees, minus this description itself. Every
figure follows from SPARQL queries over the store, so it cannot disagree
with what users count. URLs are canonical (``…/sparql``, ``…/dumps/<file>``);
the server rewrites them to the URL it serves at.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

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


# The queries behind the figures: each is a full scan of the content graphs, so the
# figures that follow from another query's answer are taken from it (void:triples is
# the sum of the property partitions, void:properties their number, void:classes the
# number of class partitions), and the scans run side by side (pyoxigraph releases the
# GIL while it evaluates).
SUBJECTS = (
    "SELECT (COUNT(*) AS ?n) "
    '(SUM(IF(isIRI(?s) && STRSTARTS(STR(?s), "{space}"), 1, 0)) AS ?entities) '
    "{from} WHERE {{ SELECT DISTINCT ?s WHERE {{ ?s ?p ?o }} }}"
)
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


def _number(term: ox.Term | None) -> int:
    # SUM over no solutions is unbound in some engines; an empty dataset counts 0.
    return int(term.value) if isinstance(term, ox.Literal) else 0


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

    queries = {
        "subjects": SUBJECTS.format(**{"from": frm}, space=ID),
        "objects": DISTINCT_OBJECTS.format(**{"from": frm}),
        "classes": CLASS_PARTITIONS.format(**{"from": frm}),
        "properties": PROPERTY_PARTITIONS.format(**{"from": frm}),
    }
    with ThreadPoolExecutor(len(queries)) as pool:
        answers = dict(
            zip(queries, pool.map(lambda q: list(store.query(q)), queries.values()), strict=True)
        )
    subjects = answers["subjects"][0]
    classes = [(row["c"], int(row["n"].value)) for row in answers["classes"]]
    properties = [(row["p"], int(row["n"].value)) for row in answers["properties"]]
    add(dataset, VOID + "triples", integer(sum(n for _, n in properties)))
    add(dataset, VOID + "entities", integer(_number(subjects["entities"])))
    add(dataset, VOID + "classes", integer(len(classes)))
    add(dataset, VOID + "properties", integer(len(properties)))
    add(dataset, VOID + "distinctSubjects", integer(_number(subjects["n"])))
    add(dataset, VOID + "distinctObjects", integer(_number(answers["objects"][0]["n"])))

    for cls, n in classes:
        if not isinstance(cls, ox.NamedNode):
            continue
        partition = iri(f"{description}#class-{_slug(cls.value)}")
        add(dataset, VOID + "classPartition", partition)
        add(partition, VOID + "class", cls)
        add(partition, VOID + "entities", integer(n))
    for prop, n in properties:
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
