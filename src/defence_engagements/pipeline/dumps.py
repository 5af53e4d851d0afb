"""The dump files of a build, written from its store, with SHA256SUMS.

Every dump is written from sorted N-Triples lines and gzipped with a zero timestamp,
so the same graphs always give the same bytes (and checksums). The gzip streams are
made by zlib-ng: at level 6 it compresses the N-Quads dump twice as fast as zlib's
level 6, to a slightly smaller file (benchmarks/README.md), and any gzip reader reads it.
"""

from __future__ import annotations

import hashlib
import heapq
import io
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import pyoxigraph as ox
from zlib_ng import gzip_ng

from defence_engagements.namespaces import (
    GRAPH_DATA,
    GRAPH_INFERRED,
    GRAPH_LINKS,
    GRAPH_METADATA,
    GRAPH_ONTOLOGY,
    PREFIXES,
)
from defence_engagements.pipeline.parse import OWN_NTRIPLES

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
    body: bytes | Iterable[bytes],
    target: Path,
    run_lines: int = 1_000_000,
    duplicates: list[bytes] | None = None,
) -> Path:
    """One graph as a file of sorted, distinct N-Triples lines (what every dump is made
    from). Sorted as bytes (sorting Python terms by their text costs ten times more),
    in runs of ``run_lines`` lines merged from temporary files, so memory stays bounded
    at any size (a million lines is about 200 MB). A line given ``n`` times goes ``n -
    1`` times into ``duplicates`` (how many files state a triple: see :mod:`.rebuild`)."""
    chunks = [body] if isinstance(body, bytes) else body
    runs: list[Path] = []
    pending: list[bytes] = []

    def spill() -> None:
        pending.sort()
        run = target.with_name(f".{target.name}.run{len(runs)}")
        with run.open("wb") as out:
            out.writelines(pending)  # duplicates kept: they are counted when merged
        runs.append(run)
        pending.clear()

    for chunk in chunks:
        pending += chunk.splitlines(keepends=True)
        if len(pending) >= run_lines:
            spill()
    if not runs:
        pending.sort()
        with target.open("wb") as out:
            out.writelines(_distinct(pending, duplicates))
        return target
    if pending:
        spill()
    try:
        with target.open("wb") as out:
            out.writelines(_distinct(heapq.merge(*map(_lines_of, runs)), duplicates))
    finally:
        for run in runs:
            run.unlink(missing_ok=True)
    return target


def _distinct(lines: Iterable[bytes], duplicates: list[bytes] | None = None) -> Iterator[bytes]:
    """Sorted lines, each once (the repeats, if asked, into ``duplicates``)."""
    previous = None
    for line in lines:
        if line != previous:
            yield line
            previous = line
        elif duplicates is not None:
            duplicates.append(line)


def _lines_of(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


def merged_lines(paths: Iterable[Path], suffixes: Iterable[bytes] | None = None) -> Iterator[bytes]:
    """The sorted lines of several sorted files, each line once. With ``suffixes``, each
    file's lines become N-Quads lines of its graph (still in sorted order: the same
    suffix replaces the end of every line of a file)."""
    files = [path.open("rb") for path in paths]
    try:
        streams: list[Iterable[bytes]] = list(files)
        if suffixes is not None:
            streams = [
                _with_suffix(stream, suffix)
                for stream, suffix in zip(streams, suffixes, strict=True)
            ]
        yield from merged(streams)
    finally:
        for handle in files:
            handle.close()


def merged(streams: Iterable[Iterable[bytes]]) -> Iterator[bytes]:
    """The lines of several sorted streams, sorted, each once."""
    return _distinct(heapq.merge(*streams))


def _with_suffix(lines: Iterable[bytes], suffix: bytes) -> Iterator[bytes]:
    # "<s> <p> <o> .\n" → "<s> <p> <o> " + suffix
    return (line[:-2] + suffix for line in lines)


class _Stream(io.RawIOBase):
    """Lines as a readable binary stream, for the parser."""

    def __init__(self, lines: Iterator[bytes]) -> None:
        self._lines = lines
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            chunk = b"".join(itertools.islice(self._lines, 4096))
            if not chunk:
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
    chosen = list(DUMPS) if names is None else list(names)
    with DumpWriter(graph_files, directory, parallel=parallel) as writer:
        writer.write(graph_files, chosen)
        counts = writer.results()
    if names is None:
        write_checksums(directory, DUMPS)
    return counts


class DumpWriter:
    """Dumps (and other work on the graph files) handed to one worker process per core
    when the graphs are big, so the caller can go on meanwhile; else written here, at
    once. ``results`` waits for every dump and gives statements per file."""

    def __init__(
        self, graph_files: Mapping[str, Path], directory: Path, *, parallel: bool | None = None
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        if parallel is None:
            size = sum(path.stat().st_size for path in graph_files.values())
            parallel = size > PARALLEL_DUMPS_BYTES
        self._pool = (
            ProcessPoolExecutor(
                os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn")
            )
            if parallel
            else None
        )
        self._written: dict[str, Future[int] | int] = {}

    def __enter__(self) -> DumpWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=exc[0] is not None)

    def write(self, graph_files: Mapping[str, Path], names: Iterable[str]) -> None:
        for name in names:
            graphs = DUMPS[name][0]
            job = (name, [graph_files[g] for g in graphs], graphs, self.directory)
            self._written[name] = (
                self._pool.submit(_write_dump, *job) if self._pool else _write_dump(*job)
            )

    def run(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        """``function(*args)`` in a worker (picklable), or here."""
        if self._pool is not None:
            return self._pool.submit(function, *args)
        done: Future[Any] = Future()
        done.set_result(function(*args))
        return done

    def results(self) -> dict[str, int]:
        return {
            name: count if isinstance(count, int) else count.result()
            for name, count in self._written.items()
        }


def dumps_of(graphs: Iterable[str]) -> list[str]:
    """The dumps made of these graphs alone."""
    available = set(graphs)
    return [name for name, (needed, _) in DUMPS.items() if available.issuperset(needed)]


def _write_dump(name: str, paths: list[Path], graphs: tuple[str, ...], directory: Path) -> int:
    """One dump file; returns its number of statements."""
    fmt = DUMPS[name][1]
    target = directory / name
    if fmt in (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS):
        counted = _Counted(
            merged_lines(paths, [f"<{graph}> .\n".encode() for graph in graphs])
            if fmt == ox.RdfFormat.N_QUADS
            else merged_lines(paths)
        )
        with target.open("wb") as raw:
            # Level 6 (zlib's default): a third of level 9's time for 2–3% more bytes.
            out: Any = (
                gzip_ng.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
                if name.endswith(".gz")
                else raw
            )
            with out:
                for block in _blocks(counted):
                    out.write(block)
        return counted.count
    prefixes = PREFIXES if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None
    if len(paths) == 1:  # one sorted file: the parser reads it directly
        source: Any = paths[0]
        count = line_count(paths[0])
        parsed = ox.parse(path=source, **OWN_NTRIPLES)
    else:
        counted = _Counted(merged_lines(paths))
        parsed = ox.parse(io.BufferedReader(_Stream(iter(counted))), **OWN_NTRIPLES)
    ox.serialize((quad.triple for quad in parsed), output=target, format=fmt, prefixes=prefixes)
    return count if len(paths) == 1 else counted.count


def line_blocks(handle: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    """A file in reads of about ``size`` bytes, each cut after its last whole line."""
    rest = b""
    while chunk := handle.read(size):
        chunk = rest + chunk
        cut = chunk.rfind(b"\n") + 1
        rest = chunk[cut:]
        if cut:
            yield chunk[:cut]
    if rest:
        yield rest


def line_count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


class _Counted:
    """An iterator of lines that counts what it gave."""

    def __init__(self, lines: Iterator[bytes]) -> None:
        self._lines = lines
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self._lines:
            self.count += 1
            yield line


def _blocks(lines: Iterable[bytes], size: int = 8192) -> Iterator[bytes]:
    iterator = iter(lines)
    while block := b"".join(itertools.islice(iterator, size)):
        yield block


def write_checksums(directory: Path, names: Iterable[str]) -> None:
    lines = [f"{sha256_file(directory / name)}  {name}\n" for name in sorted(names)]
    (directory / CHECKSUMS).write_text("".join(lines), encoding="utf-8")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
