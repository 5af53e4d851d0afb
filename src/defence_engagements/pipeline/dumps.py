"""The dump files of a build, written from its store, with SHA256SUMS.

Line-based dumps are sorted and gzipped with a zero timestamp, so the same store
always gives the same bytes (and checksums).
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable
from pathlib import Path

import pyoxigraph as ox

from defence_engagements.namespaces import (
    GRAPH_DATA,
    GRAPH_INFERRED,
    GRAPH_LINKS,
    GRAPH_METADATA,
    GRAPH_ONTOLOGY,
    PREFIXES,
)

CHECKSUMS = "SHA256SUMS"
# file name → (graphs, format); the union dumps list several graphs.
DUMPS: dict[str, tuple[tuple[str, ...], ox.RdfFormat]] = {
    "engagements.ttl": ((GRAPH_DATA,), ox.RdfFormat.TURTLE),
    "engagements-inferred.ttl": ((GRAPH_DATA, GRAPH_INFERRED), ox.RdfFormat.TURTLE),
    "engagements.nt.gz": (
        (GRAPH_ONTOLOGY, GRAPH_DATA, GRAPH_INFERRED, GRAPH_LINKS),
        ox.RdfFormat.N_TRIPLES,
    ),
    "engagements.nq.gz": (
        (GRAPH_ONTOLOGY, GRAPH_DATA, GRAPH_INFERRED, GRAPH_LINKS, GRAPH_METADATA),
        ox.RdfFormat.N_QUADS,
    ),
    "engagements.jsonld": ((GRAPH_DATA,), ox.RdfFormat.JSON_LD),
    "ontology.ttl": ((GRAPH_ONTOLOGY,), ox.RdfFormat.TURTLE),
    "ontology.rdf": ((GRAPH_ONTOLOGY,), ox.RdfFormat.RDF_XML),
    "ontology.jsonld": ((GRAPH_ONTOLOGY,), ox.RdfFormat.JSON_LD),
    "links.ttl": ((GRAPH_LINKS,), ox.RdfFormat.TURTLE),
    "links.nt.gz": ((GRAPH_LINKS,), ox.RdfFormat.N_TRIPLES),
    "void.ttl": ((GRAPH_METADATA,), ox.RdfFormat.TURTLE),
}
DUMP_NAMES = (*DUMPS, CHECKSUMS)


def _triples(store: ox.Store, graphs: Iterable[str]) -> list[ox.Triple]:
    seen: set[ox.Triple] = set()
    for graph in graphs:
        seen.update(
            q.triple for q in store.quads_for_pattern(None, None, None, ox.NamedNode(graph))
        )
    return sorted(seen, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))


def _quads(store: ox.Store, graphs: Iterable[str]) -> list[ox.Quad]:
    quads: list[ox.Quad] = []
    for graph in graphs:
        quads.extend(store.quads_for_pattern(None, None, None, ox.NamedNode(graph)))
    return sorted(quads, key=str)


def write_dumps(store: ox.Store, directory: Path) -> dict[str, int]:
    """Write every dump into ``directory``; returns statements per file."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for name, (graphs, fmt) in DUMPS.items():
        statements: list[ox.Triple] | list[ox.Quad]
        statements = (
            _quads(store, graphs) if fmt == ox.RdfFormat.N_QUADS else _triples(store, graphs)
        )
        prefixes = PREFIXES if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None
        body = ox.serialize(statements, format=fmt, prefixes=prefixes)
        assert body is not None
        target = directory / name
        if name.endswith(".gz"):
            with (
                target.open("wb") as raw,
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed,
            ):
                compressed.write(body)
        else:
            target.write_bytes(body)
        written[name] = len(statements)
    write_checksums(directory, DUMPS)
    return written


def write_checksums(directory: Path, names: Iterable[str]) -> None:
    lines = [f"{sha256_file(directory / name)}  {name}\n" for name in sorted(names)]
    (directory / CHECKSUMS).write_text("".join(lines), encoding="utf-8")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
