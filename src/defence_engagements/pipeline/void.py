"""The VoID + DCAT description of a build, with figures counted in its graphs.

The described dataset is the union of the content graphs (ontology, data,
inferred, links) — what a plain query sees, minus this description itself. The
figures are counted in the graph files the store and the dumps are made from, and
equal what COUNT queries over the store give (a test checks every one), so they
cannot disagree with what users count. URLs are canonical (``…/sparql``,
``…/dumps/<file>``); the server rewrites them to the URL it serves at.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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
from defence_engagements.pipeline.dumps import DUMPS, merged_lines
from defence_engagements.pipeline.graph_file import GraphFile

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


@dataclass
class Figures:
    """What the description counts in the content graphs' union of distinct triples."""

    triples: int = 0
    subjects: int = 0
    entities: int = 0  # subjects that are IRIs of our own URI space
    objects: int = 0
    classes: dict[str, int] = field(default_factory=dict)  # class (N-Triples) → subjects
    properties: dict[str, int] = field(default_factory=dict)  # property IRI → triples
    linksets: dict[str, int] = field(default_factory=dict)  # link predicate IRI → triples


_RDF_TYPE = f"<{RDF}type>".encode()


def figures_of(graph_files: Mapping[str, GraphFile]) -> Figures:
    """The figures, read from the graphs as sorted, distinct N-Triples files.

    One pass over the merged lines, in a worker beside the store writer: the same
    figures as COUNT queries over the store (tests/pipeline/test_build.py checks
    each against its query) for a sixth of the time at 100,000 engagements. The
    lines come sorted, so each subject's lines are consecutive and a class's
    subjects are its ``rdf:type`` lines."""
    figures = Figures()
    own = b"<" + ID.encode()
    objects: set[bytes] = set()
    classes: Counter[bytes] = Counter()
    properties: Counter[bytes] = Counter()
    previous_subject = b""
    triples = subjects = entities = 0
    for line in merged_lines([graph_files[g] for g in CONTENT_GRAPHS]):
        subject, _, rest = line.partition(b" ")
        predicate, _, obj = rest.partition(b" ")
        obj = obj[:-3]  # " .\n"
        triples += 1
        if subject != previous_subject:
            previous_subject = subject
            subjects += 1
            entities += subject.startswith(own)
        properties[predicate] += 1
        objects.add(obj)
        if predicate == _RDF_TYPE:
            classes[obj] += 1
    figures.triples, figures.subjects, figures.entities = triples, subjects, entities
    figures.objects = len(objects)
    figures.classes = {c.decode(): n for c, n in classes.items()}
    figures.properties = {p.decode()[1:-1]: n for p, n in properties.items()}
    with graph_files[GRAPH_LINKS].open() as links:
        linked = Counter(line.split(b" ", 2)[1] for line in links)
    figures.linksets = {p.decode()[1:-1]: n for p, n in linked.items()}
    return figures


def revised_figures(
    last: Figures,
    triples: Mapping[ox.Triple, int],
    subjects: Mapping[str, int],
    objects: int,
    links: Iterable[ox.Triple],
) -> Figures:
    """``last`` moved by a change of the union: ``triples`` that joined (+1) or left
    (-1) it, ``subjects`` (N-Triples) that began or ceased to be one, the change in
    distinct objects, and the new links graph (see pipeline/rebuild.py)."""
    figures = Figures(
        last.triples + sum(triples.values()),
        last.subjects + sum(subjects.values()),
        last.entities + sum(n for s, n in subjects.items() if s.startswith("<" + ID)),
        last.objects + objects,
        dict(last.classes),
        dict(last.properties),
    )
    for triple, moved in triples.items():
        counts = [(figures.properties, triple.predicate.value)]
        if triple.predicate.value == RDF + "type":
            counts.append((figures.classes, str(triple.object)))
        for table, key in counts:
            table[key] = table.get(key, 0) + moved
            if not table[key]:
                del table[key]
    figures.linksets = dict(Counter(t.predicate.value for t in links))
    return figures


def rdf_dumps(names: Iterable[str]) -> list[str]:
    """The names among ``names`` that are RDF dumps of the described dataset.

    A void:dataDump holds (part of) the content graphs: the checksum list is not
    RDF, and void.ttl holds only this description, not the dataset.
    """
    content = set(CONTENT_GRAPHS)
    return sorted(n for n in names if n in DUMPS and content.intersection(DUMPS[n][0]))


def dataset_iri(base: str) -> str:
    return base + ".well-known/void#dataset"


def describe(
    figures: Figures,
    *,
    base: str,
    version: str,
    modified: str,
    dumps: Iterable[str],
    title: str = "Defence engagements",
) -> list[ox.Triple]:
    """The VoID/DCAT triples for content graphs with these ``figures``."""
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
    for vocabulary in _vocabularies([*figures.properties, *_iris(figures.classes)]):
        add(dataset, VOID + "vocabulary", iri(vocabulary))

    add(dataset, VOID + "triples", integer(figures.triples))
    add(dataset, VOID + "entities", integer(figures.entities))
    add(dataset, VOID + "classes", integer(len(figures.classes)))
    add(dataset, VOID + "properties", integer(len(figures.properties)))
    add(dataset, VOID + "distinctSubjects", integer(figures.subjects))
    add(dataset, VOID + "distinctObjects", integer(figures.objects))

    classes = _iris(figures.classes)  # a partition per class IRI (no blank nodes)
    for cls in sorted(classes):
        partition = iri(f"{description}#class-{_slug(cls)}")
        add(dataset, VOID + "classPartition", partition)
        add(partition, VOID + "class", iri(cls))
        add(partition, VOID + "entities", integer(classes[cls]))
    for prop in sorted(figures.properties):
        partition = iri(f"{description}#property-{_slug(prop)}")
        add(dataset, VOID + "propertyPartition", partition)
        add(partition, VOID + "property", iri(prop))
        add(partition, VOID + "triples", integer(figures.properties[prop]))

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
        add(linkset, VOID + "triples", integer(figures.linksets.get(predicate, 0)))
    return out


def _iris(terms: Mapping[str, int]) -> dict[str, int]:
    """The IRIs among N-Triples terms (``<iri>``), without their brackets."""
    return {t[1:-1]: n for t, n in terms.items() if t.startswith("<")}


def _vocabularies(terms: Iterable[str]) -> list[str]:
    """The known namespaces of the classes and properties the dataset uses."""
    used: set[str] = set()
    namespaces = sorted(set(PREFIXES.values()) - {ID, WIKIDATA_ENTITY}, key=len, reverse=True)
    for term in terms:
        for namespace in namespaces:
            if term.startswith(namespace):
                used.add(ONTOLOGY_IRI if namespace.startswith(ONTOLOGY_IRI) else namespace)
                break
    return sorted(used)


def _slug(iri: str) -> str:
    for prefix, namespace in sorted(PREFIXES.items(), key=lambda kv: -len(kv[1])):
        local = iri[len(namespace) :]
        if iri.startswith(namespace) and re.fullmatch(r"[A-Za-z0-9_-]+", local):
            return f"{prefix}-{local}"
    return hashlib.sha256(iri.encode()).hexdigest()[:16]
