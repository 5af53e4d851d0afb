"""A graph as sorted, distinct N-Triples lines, kept on disk in parts.

Every dump, the VoID figures and the subjects' maxima are read from these files, and
the caches keep the last build's data and inferred graphs in them for the next
rebuild (:mod:`.rebuild`). A graph file is a directory: the lines cut into parts where
the content says (one subject in :data:`PART_SUBJECTS` starts a part, by its CRC-32,
as the dumps are cut: :mod:`.dump_parts`) and an index, ``parts.json``, of each part's
file, first subject, lines and bytes. Read whole, it is the parts one after the other.

A patch (:meth:`GraphFile.patch`) writes the parts the change touches and hard-links
the others from the last file: at 100,000 engagements a rebuild writes a few megabytes
where one file would be a gigabyte, and removing an old graph file frees only the
parts it alone held.
"""

from __future__ import annotations

import bisect
import heapq
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from defence_engagements.dump_files import read_joined
from defence_engagements.pipeline import dump_parts

INDEX = "parts.json"
# About 2.5 MB of the data graph a part at 100,000 engagements: a rebuild rewrites a
# few, and a build writes some hundreds.
PART_SUBJECTS = 1024


@dataclass(frozen=True)
class Part:
    name: str  # the file, in the graph file's directory
    first: bytes  # its first subject, as N-Triples
    lines: int
    size: int


class GraphFile:
    """One graph's sorted, distinct N-Triples lines in a directory of parts."""

    def __init__(self, directory: Path, parts: list[Part] | None = None, every: int = 0) -> None:
        self.directory = directory
        self._parts = parts
        self._every = every

    def __repr__(self) -> str:
        return f"GraphFile({str(self.directory)!r})"

    @staticmethod
    def at(directory: Path) -> GraphFile | None:
        """The graph file in ``directory``, or None when there is none (or only half)."""
        return GraphFile(directory) if (directory / INDEX).is_file() else None

    def _read_index(self) -> None:
        index = orjson.loads((self.directory / INDEX).read_bytes())
        self._every = index["every"]
        self._parts = [Part(n, f.encode(), lines, size) for n, f, lines, size in index["parts"]]

    @property
    def parts(self) -> list[Part]:
        if self._parts is None:
            self._read_index()
        assert self._parts is not None
        return self._parts

    @property
    def every(self) -> int:
        if self._parts is None:
            self._read_index()
        return self._every

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    @property
    def lines(self) -> int:
        return sum(part.lines for part in self.parts)

    @property
    def paths(self) -> list[Path]:
        """The parts' files, in order: each holds whole lines."""
        return [self.directory / part.name for part in self.parts]

    def open(self) -> BinaryIO:
        """The lines as one binary stream, part after part."""
        return read_joined(self.paths, [part.size for part in self.parts])

    def read_bytes(self) -> bytes:
        with self.open() as handle:
            return handle.read()

    def lines_in_range(self, first: bytes | None, stop: bytes | None) -> list[bytes]:
        """The lines whose subjects are from ``first`` up to, not including, ``stop``
        (None: from the start, to the end)."""
        firsts = [part.first for part in self.parts]
        low = 0 if first is None else max(bisect.bisect_right(firsts, first) - 1, 0)
        high = len(firsts) if stop is None else bisect.bisect_left(firsts, stop)
        lines = [
            line
            for part in self.parts[low:high]
            for line in (self.directory / part.name).read_bytes().splitlines(keepends=True)
        ]
        # Lines sort as their subjects do: a subject never has a space in it.
        start = 0 if first is None else bisect.bisect_left(lines, first + b" ")
        end = len(lines) if stop is None else bisect.bisect_left(lines, stop + b" ")
        return lines[start:end]

    def patch(
        self, drop: Iterable[bytes], add: Iterable[bytes], target: Path
    ) -> tuple[GraphFile, list[bytes], list[bytes]]:
        """A new graph file in ``target``: these lines without ``drop`` and with ``add``
        (a line in both goes). Returns it, the lines that left (of ``drop``, those there
        were) and those that joined (of ``add``, those not there yet)."""
        dropped = set(drop)
        changes = sorted(dropped.union(add))
        left: set[bytes] = set()
        joined: set[bytes] = set()

        def lines_between(first: bytes | None, stop: bytes | None) -> list[bytes]:
            old = self.lines_in_range(first, stop)
            low = 0 if first is None else bisect.bisect_left(changes, first + b" ")
            high = len(changes) if stop is None else bisect.bisect_left(changes, stop + b" ")
            present = set(old)
            added = []
            for line in changes[low:high]:
                if line in dropped:
                    if line in present:
                        left.add(line)
                else:
                    added.append(line)
                    if line not in present:
                        joined.add(line)
            return sorted(present.difference(dropped).union(added))

        writer = _PartWriter(target, self.every)
        if len(self.parts) < 3:
            for first, lines in dump_parts.cut(lines_between(None, None), self.every):
                writer.write(first, lines)
        else:
            subjects = {line[: line.index(b" ")] for line in changes}
            firsts = [part.first for part in self.parts]
            copied = 0
            for start, stop, made in dump_parts.rewritten(
                firsts, subjects, lines_between, self.every
            ):
                for part in self.parts[copied:start]:
                    writer.link(self.directory, part)
                for first, lines in made:
                    writer.write(first, lines)
                copied = stop + 1
            for part in self.parts[copied:]:
                writer.link(self.directory, part)
        return writer.close(), sorted(left), sorted(joined)

    def move(self, target: Path) -> GraphFile:
        """This graph file, renamed to ``target`` (on the same file system)."""
        shutil.move(self.directory, target)
        return GraphFile(target, self._parts, self._every)


def write_graph_file(
    body: bytes | Iterable[bytes],
    target: Path,
    run_lines: int = 1_000_000,
    duplicates: list[bytes] | None = None,
    every: int = PART_SUBJECTS,
) -> GraphFile:
    """One graph as a graph file of sorted, distinct N-Triples lines (what every dump
    is made from). Sorted as bytes (sorting Python terms by their text costs ten times
    more), in runs of ``run_lines`` lines merged from temporary files, so memory stays
    bounded at any size (a million lines is about 200 MB). A line given ``n`` times
    goes ``n - 1`` times into ``duplicates`` (how many files state a triple: see
    :mod:`.rebuild`)."""
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
        return write_sorted(distinct(pending, duplicates), target, every)
    if pending:
        spill()
    try:
        return write_sorted(distinct(heapq.merge(*map(_lines_of, runs)), duplicates), target, every)
    finally:
        for run in runs:
            run.unlink(missing_ok=True)


def write_sorted(lines: Iterable[bytes], target: Path, every: int = PART_SUBJECTS) -> GraphFile:
    """A graph file of ``lines``, already sorted and distinct."""
    writer = _PartWriter(target, every)
    for first, part in dump_parts.cut(lines, every):
        writer.write(first, part)
    return writer.close()


def distinct(lines: Iterable[bytes], duplicates: list[bytes] | None = None) -> Iterator[bytes]:
    """Sorted lines, each once (the repeats, if asked, into ``duplicates``)."""
    previous = None
    for line in lines:
        if line != previous:
            yield line
            previous = line
        elif duplicates is not None:
            duplicates.append(line)


def remove(path: Path) -> None:
    """A graph file (or a file of an older cache) gone."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _lines_of(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


class _PartWriter:
    """A graph file being written: parts in order, new or linked from another; the
    index last, so a directory without one is a graph file half written."""

    def __init__(self, target: Path, every: int) -> None:
        remove(target)
        target.mkdir(parents=True)
        self.target = target
        self.every = every
        self.parts: list[Part] = []
        self._token = uuid.uuid4().hex[:8]  # new parts' names never meet linked ones'

    def write(self, first: bytes, lines: list[bytes]) -> None:
        name = f"{self._token}-{len(self.parts):06d}.nt"
        body = b"".join(lines)
        (self.target / name).write_bytes(body)
        self.parts.append(Part(name, first, len(lines), len(body)))

    def link(self, source: Path, part: Part) -> None:
        os.link(source / part.name, self.target / part.name)
        self.parts.append(part)

    def close(self) -> GraphFile:
        index = {
            "every": self.every,
            "parts": [[p.name, p.first.decode(), p.lines, p.size] for p in self.parts],
        }
        (self.target / INDEX).write_bytes(orjson.dumps(index))
        return GraphFile(self.target, self.parts, self.every)


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
