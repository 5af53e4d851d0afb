"""The dump files of a build, written from its store, with SHA256SUMS.

Every dump is written from sorted N-Triples lines and gzipped with a zero timestamp,
so the same graphs always give the same bytes (and checksums).
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import io
import itertools
import multiprocessing
import os
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

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


def write_graph_file(
    body: bytes | Iterable[bytes], target: Path, run_lines: int = 1_000_000
) -> Path:
    """One graph as a file of sorted, distinct N-Triples lines (what every dump is made
    from). Sorted as bytes (sorting Python terms by their text costs ten times more),
    in runs of ``run_lines`` lines merged from temporary files, so memory stays bounded
    at any size (a million lines is about 200 MB)."""
    chunks = [body] if isinstance(body, bytes) else body
    runs: list[Path] = []
    pending: list[bytes] = []

    def spill() -> None:
        pending.sort()
        run = target.with_name(f".{target.name}.run{len(runs)}")
        with run.open("wb") as out:
            out.writelines(_distinct(pending))
        runs.append(run)
        pending.clear()

    for chunk in chunks:
        pending += chunk.splitlines(keepends=True)
        if len(pending) >= run_lines:
            spill()
    if not runs:
        pending.sort()
        with target.open("wb") as out:
            out.writelines(_distinct(pending))
        return target
    if pending:
        spill()
    try:
        with target.open("wb") as out:
            out.writelines(merged_lines(runs))
    finally:
        for run in runs:
            run.unlink(missing_ok=True)
    return target


def _distinct(lines: Iterable[bytes]) -> Iterator[bytes]:
    """Sorted lines, each once."""
    previous = None
    for line in lines:
        if line != previous:
            yield line
            previous = line


def merged_lines(paths: Iterable[Path], suffixes: Iterable[bytes] | None = None) -> Iterator[bytes]:
    """The sorted lines of several sorted files, each line once. With ``suffixes``, each
    file's lines become N-Quads lines of its graph (still in sorted order: the same
    suffix replaces the end of every line of a file)."""
    for block in merged_blocks(paths, suffixes):
        yield from block


def merged_blocks(
    paths: Iterable[Path], suffixes: Iterable[bytes] | None = None, *, block_lines: int = 65_536
) -> Iterator[list[bytes]]:
    """:func:`merged_lines` in blocks (lists of lines, in order).

    Merged a block at a time by ``list.sort``, whose run detection merges the files'
    sorted runs in C: a merge a line at a time in Python (``heapq.merge``) took most of
    the time of the big dumps. Every line up to the smallest of the blocks' last lines
    can go out, since no file holds a smaller line after its block; the copies of a
    line thus always go out in the same block, where they are made one."""
    paths = list(paths)
    ends = [None] * len(paths) if suffixes is None else list(suffixes)
    readers = [_SortedLines(path, end, block_lines) for path, end in zip(paths, ends, strict=True)]
    try:
        while True:
            live = [reader for reader in readers if reader.fill()]
            if not live:
                return
            boundary = min(reader.last for reader in live)
            block: list[bytes] = []
            for reader in live:
                block += reader.take_through(boundary)
            block.sort()
            yield list(dict.fromkeys(block))  # each line once, in order
    finally:
        for reader in readers:
            reader.close()


class _SortedLines:
    """A sorted file read a block of lines at a time (as N-Quads of a graph, with an
    ``end`` replacing each line's final ``" .\n"``; no line holds that but at its end,
    as N-Triples escapes line breaks)."""

    def __init__(self, path: Path, end: bytes | None, block_lines: int) -> None:
        self._handle = path.open("rb")
        self._end = end
        self._block_lines = block_lines
        self._lines: list[bytes] = []
        self._next = 0

    def fill(self) -> bool:
        """Whether lines remain; reads the next block when this one is used up."""
        if self._next < len(self._lines):
            return True
        self._lines = list(itertools.islice(self._handle, self._block_lines))
        self._next = 0
        if self._end is not None and self._lines:
            self._lines = (
                b"".join(self._lines).replace(b" .\n", b" " + self._end).splitlines(keepends=True)
            )
        return bool(self._lines)

    @property
    def last(self) -> bytes:
        return self._lines[-1]

    def take_through(self, boundary: bytes) -> list[bytes]:
        """The lines of the block up to and including ``boundary``."""
        cut = bisect.bisect_right(self._lines, boundary, self._next)
        taken = self._lines[self._next : cut]
        self._next = cut
        return taken

    def close(self) -> None:
        self._handle.close()


class _Stream(io.RawIOBase):
    """Chunks of bytes as a readable binary stream, for the parser."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


# Above this many bytes of graph files the dumps are written by one process per core:
# each dump is single-threaded Python and Rust, and a big build has minutes of them.
PARALLEL_DUMPS_BYTES = 64 * 1024 * 1024


def write_dumps(
    graph_files: Mapping[str, Path],
    directory: Path,
    *,
    names: Iterable[str] | None = None,
    parallel: bool | None = None,
) -> dict[str, int]:
    """Write the dumps ``names`` (default: every dump, then SHA256SUMS) into
    ``directory``; returns statements per file.

    ``graph_files`` holds each graph as sorted, distinct N-Triples lines
    (:func:`write_graph_file`); the dumps are streamed from them, never held whole.
    ``parallel`` (default: when the graphs are big) writes them in worker processes;
    the bytes are the same either way.
    """
    directory.mkdir(parents=True, exist_ok=True)
    chosen = list(DUMPS) if names is None else list(names)
    jobs = [
        (name, [graph_files[graph] for graph in DUMPS[name][0]], DUMPS[name][0], directory)
        for name in chosen
    ]
    if parallel is None:
        parallel = sum(path.stat().st_size for path in graph_files.values()) > PARALLEL_DUMPS_BYTES
    if parallel and len(jobs) > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=context) as pool:
            counts = list(pool.map(_write_dump, *zip(*jobs, strict=True)))
    else:
        counts = [_write_dump(*job) for job in jobs]
    if names is None:
        write_checksums(directory, DUMPS)
    return dict(zip(chosen, counts, strict=True))


def dumps_of(graphs: Iterable[str]) -> list[str]:
    """The dumps made of these graphs alone."""
    available = set(graphs)
    return [name for name, (needed, _) in DUMPS.items() if available.issuperset(needed)]


def _write_dump(name: str, paths: list[Path], graphs: tuple[str, ...], directory: Path) -> int:
    """One dump file; returns its number of statements."""
    fmt = DUMPS[name][1]
    target = directory / name
    counted = _Counted(
        merged_blocks(paths, [f"<{graph}> .\n".encode() for graph in graphs])
        if fmt == ox.RdfFormat.N_QUADS
        else merged_blocks(paths)
    )
    if fmt in (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS):
        with target.open("wb") as raw:
            # Level 6 (zlib's default): a third of level 9's time for 2–3% more bytes.
            out: Any = (
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
                if name.endswith(".gz")
                else raw
            )
            with out:
                for block in counted:
                    out.write(block)
        return counted.count
    prefixes = PREFIXES if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None
    if len(paths) == 1:  # one sorted file: the parser reads it directly
        parsed = ox.parse(path=paths[0], format=ox.RdfFormat.N_TRIPLES)
    else:
        parsed = ox.parse(io.BufferedReader(_Stream(iter(counted))), format=ox.RdfFormat.N_TRIPLES)
    ox.serialize((quad.triple for quad in parsed), output=target, format=fmt, prefixes=prefixes)
    return line_count(paths[0]) if len(paths) == 1 else counted.count


def line_count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


class _Counted:
    """Blocks of lines, joined, counting the lines they held."""

    def __init__(self, blocks: Iterator[list[bytes]]) -> None:
        self._blocks = blocks
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for block in self._blocks:
            self.count += len(block)
            yield b"".join(block)


def write_checksums(directory: Path, names: Iterable[str]) -> None:
    lines = [f"{sha256_file(directory / name)}  {name}\n" for name in sorted(names)]
    (directory / CHECKSUMS).write_text("".join(lines), encoding="utf-8")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
