"""The named graphs of a build, and writing them into a fresh on-disk store."""

from __future__ import annotations

import contextlib
import ctypes
import mmap
from collections.abc import Iterable
from pathlib import Path

import pyoxigraph as ox

from defence_engagements.dump_files import read_joined
from defence_engagements.namespaces import DEX, WIKIDATA_ITEM_PATTERN
from defence_engagements.pipeline.graph_file import line_blocks
from defence_engagements.pipeline.parse import OWN_NTRIPLES

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
OWL_SAME_AS = ox.NamedNode("http://www.w3.org/2002/07/owl#sameAs")
SKOS_EXACT_MATCH = ox.NamedNode("http://www.w3.org/2004/02/skos/core#exactMatch")
WIKIDATA_LINK = ox.NamedNode(DEX + "WikidataLink")
HAS_WIKIDATA_LINK = ox.NamedNode(DEX + "wikidataLink")
WIKIDATA_ITEM = ox.NamedNode(DEX + "wikidataItem")
_BLANK = b"_:"  # in an N-Triples line: a blank node (or a literal that looks like one)
# The bulk loader holds about 1 KB per quad of one call: calls of half a million lines
# keep it near 800 MB at any size, for about a fifth more time than one call per graph
# (100,000: about 180 MB, for the calls made while the working store is held).
BULK_LOAD_LINES = 500_000


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


def wikidata_links_in(
    store: ox.Store, graphs: list[ox.NamedNode] | list[ox.DefaultGraph]
) -> set[ox.Triple]:
    """:func:`wikidata_links` over the asserted triples of a store: those of the
    build's working store (its default graph), or of a rebuild's revised store (its
    ontology and data graphs)."""
    relevant = [
        quad
        for graph in graphs
        for pattern in ((RDF_TYPE, WIKIDATA_LINK), (WIKIDATA_ITEM, None), (HAS_WIKIDATA_LINK, None))
        for quad in store.quads_for_pattern(None, *pattern, graph)
    ]
    return wikidata_links({q.triple for q in relevant})


def load_ntriples(
    store: ox.Store, iri: str, blocks: Iterable[bytes], *, batch: int = BULK_LOAD_LINES
) -> None:
    """Add N-Triples to the graph ``iri`` of an on-disk store; ``blocks`` are runs of
    whole lines (a file's triples, a read of a graph file).

    Bulk-loaded in calls of about ``batch`` lines; lines with blank nodes are added
    through the parser, because ``bulk_load`` would give blank nodes new labels and the
    dumps keep the stable ones. Lines stated twice are stored once. Blocks are looked
    at whole (one search for a blank node per call), not line by line: most calls have
    none."""
    name = ox.NamedNode(iri)
    blank: list[bytes] = []
    pending: list[bytes] = []
    lines = 0

    def load() -> None:
        body = b"".join(pending)
        if _BLANK in body:
            split = body.splitlines(keepends=True)
            blank.extend(line for line in split if _BLANK in line)
            body = b"".join(line for line in split if _BLANK not in line)
        store.bulk_load(body, to_graph=name, **OWN_NTRIPLES)
        # Each call's loader threads free their memory into C heap arenas that the next
        # call's threads may not reuse: hand it back, or the process grows call by call.
        return_freed_memory()
        pending.clear()

    for block in blocks:
        pending.append(block)
        lines += block.count(b"\n")
        if lines >= batch:
            load()
            lines = 0
    if pending:
        load()
    if blank:
        store.bulk_extend(
            ox.Quad(q.subject, q.predicate, q.object, name)
            for q in ox.parse(b"".join(blank), **OWN_NTRIPLES)
        )


def load_ntriples_files(store: ox.Store, iri: str, files: list[Path]) -> None:
    """Add the N-Triples lines of ``files`` (each of whole lines: one file, or the parts
    of a graph file in order) to the graph ``iri`` of an on-disk store.

    When no line has a blank node, in one bulk-load call: the loader cuts its own
    batches, and RocksDB is left far fewer overlapping files to compact than calls of
    :data:`BULK_LOAD_LINES` leave it (the inferred graph at 100,000 engagements, 4.5M
    lines: a fifth less CPU in the build, at ~1.8 GB instead of ~0.8 GB). Else as
    :func:`load_ntriples` adds them, keeping the blank nodes' labels."""
    with read_joined(files, [path.stat().st_size for path in files]) as handle:
        if any(_mentions(path, _BLANK) for path in files):
            load_ntriples(store, iri, line_blocks(handle))
        else:
            store.bulk_load(handle, to_graph=ox.NamedNode(iri), **OWN_NTRIPLES)
            return_freed_memory()


def _mentions(path: Path, needle: bytes) -> bool:
    if not path.stat().st_size:
        return False  # mmap cannot map an empty file
    with (
        path.open("rb") as handle,
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
    ):
        return mapped.find(needle) != -1


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


def return_freed_memory() -> None:
    """Give memory freed into the C heap back to the system (glibc's ``malloc_trim``;
    elsewhere nothing happens): Python's small objects and other threads' allocations
    could not reuse it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)
