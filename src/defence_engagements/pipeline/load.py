"""The named graphs of a build, and writing them into a fresh on-disk store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pyoxigraph as ox

from defence_engagements.namespaces import DEX, WIKIDATA_ITEM_PATTERN
from defence_engagements.store import open_writable_store

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
OWL_SAME_AS = ox.NamedNode("http://www.w3.org/2002/07/owl#sameAs")
SKOS_EXACT_MATCH = ox.NamedNode("http://www.w3.org/2004/02/skos/core#exactMatch")
WIKIDATA_LINK = ox.NamedNode(DEX + "WikidataLink")
HAS_WIKIDATA_LINK = ox.NamedNode(DEX + "wikidataLink")
WIKIDATA_ITEM = ox.NamedNode(DEX + "wikidataItem")


def wikidata_links(data: Iterable[ox.Triple]) -> set[ox.Triple]:
    """``entity owl:sameAs item`` and ``entity skos:exactMatch item`` from the link records.

    A record counts when it is typed dex:WikidataLink and names an item IRI of the
    form ``http://www.wikidata.org/entity/Q…``; the shapes report anything else.
    """
    records: set[ox.Term] = set()
    items: dict[ox.Term, list[ox.NamedNode]] = {}
    entities: list[tuple[ox.Term, ox.Term]] = []
    for t in data:
        if t.predicate == RDF_TYPE and t.object == WIKIDATA_LINK:
            records.add(t.subject)
        elif t.predicate == WIKIDATA_ITEM and isinstance(t.object, ox.NamedNode):
            if WIKIDATA_ITEM_PATTERN.match(t.object.value):
                items.setdefault(t.subject, []).append(t.object)
        elif t.predicate == HAS_WIKIDATA_LINK:
            entities.append((t.subject, t.object))
    links: set[ox.Triple] = set()
    for entity, record in entities:
        if record not in records or not isinstance(entity, ox.NamedNode):
            continue
        for item in items.get(record, ()):
            links.add(ox.Triple(entity, OWL_SAME_AS, item))
            links.add(ox.Triple(entity, SKOS_EXACT_MATCH, item))
    return links


def write_store(path: Path, graphs: Mapping[str, Iterable[ox.Triple]]) -> ox.Store:
    """A new store at ``path`` holding each graph under its IRI."""
    store = open_writable_store(path)
    for iri, triples in graphs.items():
        name = ox.NamedNode(iri)
        store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, name) for t in triples)
    store.flush()
    return store


def add_graph(store: ox.Store, iri: str, triples: Iterable[ox.Triple]) -> None:
    name = ox.NamedNode(iri)
    store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, name) for t in triples)
    store.flush()


def graph_counts(store: ox.Store, iris: Iterable[str]) -> dict[str, int]:
    """Triples per named graph, as a COUNT query over the store gives them."""
    counts = {}
    for iri in iris:
        result = store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}")
        counts[iri] = int(next(iter(result))["n"].value)
    return counts
