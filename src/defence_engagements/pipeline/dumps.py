"""The dump files of a build, written from its store, with SHA256SUMS.

Every dump is written from sorted N-Triples lines and gzipped with a zero timestamp,
so the same graphs always give the same bytes (and checksums).
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Mapping
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


Lines = list[bytes]  # sorted, distinct N-Triples lines of one graph


def sorted_lines(triples: Iterable[ox.Triple]) -> Lines:
    """A graph as sorted, distinct N-Triples lines: serialised in Rust, sorted as bytes
    (sorting Python terms by their text costs ten times more)."""
    body = ox.serialize(list(triples), format=ox.RdfFormat.N_TRIPLES) or b""
    return sorted(set(body.splitlines(keepends=True)))


def _union(graphs: Mapping[str, Lines], names: Iterable[str]) -> Lines:
    parts = [graphs[name] for name in names]
    if len(parts) == 1:
        return parts[0]
    return sorted(set().union(*parts))


def _quad_lines(graphs: Mapping[str, Lines], names: Iterable[str]) -> Lines:
    # An N-Triples line "<s> <p> <o> .\n" becomes the N-Quads line "<s> <p> <o> <g> .\n".
    return sorted(line[:-2] + f"<{name}> .\n".encode() for name in names for line in graphs[name])


def write_dumps(graphs: Mapping[str, Iterable[ox.Triple]], directory: Path) -> dict[str, int]:
    """Write every dump of the named graphs into ``directory``; returns statements per file.

    Written from the build's own triples, not read back from the on-disk store
    (reading a million quads back through Python costs more than the whole dump).
    """
    directory.mkdir(parents=True, exist_ok=True)
    lines = {name: sorted_lines(triples) for name, triples in graphs.items()}
    written: dict[str, int] = {}
    for name, (names, fmt) in DUMPS.items():
        if fmt == ox.RdfFormat.N_QUADS:
            statements = _quad_lines(lines, names)
        else:
            statements = _union(lines, names)
        if fmt in (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS):
            body = b"".join(statements)
        else:
            prefixes = PREFIXES if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None
            parsed = ox.parse(b"".join(statements), format=ox.RdfFormat.N_TRIPLES)
            triples = (quad.triple for quad in parsed)
            body = ox.serialize(triples, format=fmt, prefixes=prefixes) or b""
        target = directory / name
        if name.endswith(".gz"):
            # Level 6 (zlib's default): a third of level 9's time for 2–3% more bytes.
            with (
                target.open("wb") as raw,
                gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6
                ) as compressed,
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
