"""The dump files of a build, written from its store, with SHA256SUMS.

Every dump is written from sorted N-Triples lines and gzipped with a zero timestamp,
so the same graphs always give the same bytes (and checksums). The gzip streams are
made by zlib-ng: at level 6 it compresses the N-Quads dump twice as fast as zlib's
level 6, to a slightly smaller file (benchmarks/README.md), and any gzip reader reads it.
"""

from __future__ import annotations

import concurrent.futures
import heapq
import io
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, NamedTuple

import pyoxigraph as ox

from defence_engagements.dump_files import link_dump, write_whole
from defence_engagements.namespaces import (
    GRAPH_DATA,
    GRAPH_INFERRED,
    GRAPH_LINKS,
    GRAPH_METADATA,
    GRAPH_ONTOLOGY,
    PREFIXES,
)
from defence_engagements.pipeline import dump_parts
from defence_engagements.pipeline.graph_file import GraphFile, distinct
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


def merged_lines(
    graphs: Iterable[GraphFile], suffixes: Iterable[bytes] | None = None
) -> Iterator[bytes]:
    """The sorted lines of several sorted files, each line once. With ``suffixes``, each
    file's lines become N-Quads lines of its graph (still in sorted order: the same
    suffix replaces the end of every line of a file)."""
    files = [graph.open() for graph in graphs]
    try:
        yield from merged(files, suffixes)
    finally:
        for handle in files:
            handle.close()


def merged(
    streams: Iterable[Iterable[bytes]], suffixes: Iterable[bytes] | None = None
) -> Iterator[bytes]:
    """The lines of several sorted streams, sorted, each once; with ``suffixes``, as
    :func:`merged_lines` makes them."""
    if suffixes is not None:
        streams = [
            _with_suffix(stream, suffix) for stream, suffix in zip(streams, suffixes, strict=True)
        ]
    return distinct(heapq.merge(*streams))


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


class Written(NamedTuple):
    """One dump file: its statements, SHA-256 and parts (see :mod:`.dump_parts`)."""

    count: int
    digest: str
    index: dict[str, Any] | None  # None: written whole (RDF/XML)


class DumpWriter:
    """Dumps (and other work on the graph files) handed to one worker process per core
    when the graphs are big, so the caller can go on meanwhile; else written here, at
    once. ``results`` waits for every dump and gives statements per file."""

    def __init__(
        self,
        graph_files: Mapping[str, GraphFile],
        directory: Path,
        *,
        parallel: bool | None = None,
        part_subjects: int = 256,
        workers: ProcessPoolExecutor | None = None,
    ) -> None:
        """``workers``: a pool already started (:func:`start_workers`), the caller's
        to shut down."""
        self.directory = directory
        self.part_subjects = part_subjects
        directory.mkdir(parents=True, exist_ok=True)
        if parallel is None:
            size = sum(graph.size for graph in graph_files.values())
            parallel = workers is not None or size > PARALLEL_DUMPS_BYTES
        self._owned = parallel and workers is None
        self._pool = (workers or start_workers()) if parallel else None
        self._written: dict[str, Future[Written] | Written] = {}

    def __enter__(self) -> DumpWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None and self._owned:
            self._pool.shutdown(cancel_futures=exc[0] is not None)

    def write(self, graph_files: Mapping[str, GraphFile], names: Iterable[str]) -> None:
        for name in names:
            self._submit(name, graph_files, None)

    def _submit(
        self,
        name: str,
        graph_files: Mapping[str, GraphFile],
        patching: tuple[Path, Written, set[bytes]] | None,
    ) -> None:
        graphs = DUMPS[name][0]
        job = (name, [graph_files[g] for g in graphs], graphs, self.directory, self.part_subjects)
        self._written[name] = (
            self._pool.submit(_write_dump, *job, patching)
            if self._pool
            else _write_dump(*job, patching)
        )

    def patch(
        self,
        graph_files: Mapping[str, GraphFile],
        names: Iterable[str],
        last: Path,
        last_written: Mapping[str, Written],
        changed: Mapping[str, set[bytes]],
    ) -> None:
        """The dumps ``names`` as the last build's (in ``last``) with the parts of the
        subjects ``changed`` in their graphs (graph → subjects) written anew; a dump
        none of whose graphs changed is the last one's file (a hard link)."""
        for name in names:
            graphs = DUMPS[name][0]
            subjects = set().union(*(changed.get(g, set()) for g in graphs))
            before = last_written.get(name)
            if before is not None and not subjects:
                link_dump(last / name, self.directory / name)
                self._written[name] = before
                continue
            patching = (last / name, before, subjects) if before and before.index else None
            self._submit(name, graph_files, patching)

    def run(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        """``function(*args)`` in a worker (picklable), or here."""
        if self._pool is not None:
            return self._pool.submit(function, *args)
        done: Future[Any] = Future()
        done.set_result(function(*args))
        return done

    @property
    def submitted(self) -> set[str]:
        return set(self._written)

    def results(self) -> dict[str, Written]:
        return {
            name: written if isinstance(written, Written) else written.result()
            for name, written in self._written.items()
        }

    def abandon(self) -> None:
        """Drop what has not started and wait for what has (it writes into a build
        about to be removed), whatever it gives."""
        running = [w for w in self._written.values() if isinstance(w, Future) and not w.cancel()]
        concurrent.futures.wait(running)


_kept_workers: list[ProcessPoolExecutor] = []


def kept_workers() -> ProcessPoolExecutor:
    """This process's dump workers, started on first use and kept: a process that
    builds again (``engagements watch``) does not start them each time."""
    if _kept_workers:
        pool = _kept_workers[0]
        try:
            pool.submit(int).result()  # alive (a worker that died breaks the pool)
            return pool
        except (BrokenProcessPool, RuntimeError):
            _kept_workers.clear()
    _kept_workers.append(start_workers())
    return _kept_workers[0]


def start_workers() -> ProcessPoolExecutor:
    """One worker process per core, started now: each takes a third of a second to
    start and import what writes dumps, which a rebuild spends on other work."""
    cores = os.cpu_count() or 1
    pool = ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("spawn"))
    for _ in range(cores):
        pool.submit(dumps_of, ())
    return pool


def dumps_of(graphs: Iterable[str]) -> list[str]:
    """The dumps made of these graphs alone."""
    available = set(graphs)
    return [name for name, (needed, _) in DUMPS.items() if available.issuperset(needed)]


def _write_dump(
    name: str,
    paths: list[GraphFile],
    graphs: tuple[str, ...],
    directory: Path,
    part_subjects: int,
    patching: tuple[Path, Written, set[bytes]] | None = None,
) -> Written:
    """One dump file, in parts (:mod:`.dump_parts`), or with ``patching`` (the last
    build's file, what it was, the changed subjects) as that file's parts patched."""
    fmt = DUMPS[name][1]
    target = directory / name
    if fmt == ox.RdfFormat.RDF_XML:  # the ontology alone: small, written whole
        counted = _Counted(merged_lines(paths))
        parsed = ox.parse(io.BufferedReader(_Stream(iter(counted))), **OWN_NTRIPLES)
        body = ox.serialize((q.triple for q in parsed), format=fmt, prefixes=PREFIXES) or b""
        return Written(counted.count, write_whole(target, body).sha256, None)
    codec = dump_parts.Codec(fmt, gzipped=name.endswith(".gz"), every=part_subjects)
    quads = [f"<{g}> .\n".encode() for g in graphs] if fmt == ox.RdfFormat.N_QUADS else None
    if patching is not None:
        last, before, subjects = patching
        assert before.index is not None
        patched = dump_parts.patch(
            last,
            dump_parts.Index.from_json(before.index),
            target,
            codec,
            subjects,
            lambda first, stop: merged(
                [graph.lines_in_range(first, stop) for graph in paths], quads
            ),
        )
        if patched is not None:
            index, dump = patched
            return Written(index.statements, dump.sha256, index.to_json())
    index, dump = dump_parts.write(target, codec, merged_lines(paths, quads))
    return Written(index.statements, dump.sha256, index.to_json())


class _Counted:
    """An iterator of lines that counts what it gave."""

    def __init__(self, lines: Iterator[bytes]) -> None:
        self._lines = lines
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self._lines:
            self.count += 1
            yield line


def write_checksums(directory: Path, digests: Mapping[str, str]) -> None:
    """SHA256SUMS, from the digests the writers took on the way."""
    lines = [f"{digests[name]}  {name}\n" for name in sorted(digests)]
    write_whole(directory / CHECKSUMS, "".join(lines).encode())
