"""Dump files made of parts cut where the content says, so a rebuild rewrites a few.

A dump is written from sorted lines, each subject's lines together. A new *part*
starts at the first subject and at every subject whose CRC-32 is a multiple of a
number (settings: ``dump_part_subjects``, 256: about 250 kB of Turtle a part): the
cuts depend only on which subjects there are, so the same graphs give the same
parts, and a change moves only the cuts next to it (content-defined chunking, as
rsync and backup tools cut files). Each part is written on its own — Turtle without
the prefix block the file starts with, JSON-LD as its objects between the file's
brackets, N-Triples and N-Quads as a gzip member of its own (members concatenate
into one gzip file) — into a piece of its own (:mod:`defence_engagements.dump_files`),
and each part's first subject, statements and piece are kept in an :class:`Index`
(``parts.json`` beside the build).

A rebuild (:func:`patch`) writes anew only the parts holding a changed subject, with
one part either side (a cut whose subject went or came moves into them), and
hard-links every other part's piece from the last build's dump. Turtle and JSON-LD
parts are what one serialisation of the whole graph gives at that place, so those
files read whole are byte for byte the same either way; the gzip files are the same
for the same graphs.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from zlib_ng import gzip_ng

from defence_engagements.dump_files import DumpFile, write_index
from defence_engagements.namespaces import PREFIXES
from defence_engagements.pipeline import sha256_state
from defence_engagements.pipeline.parse import OWN_NTRIPLES


def starts_part(subject: bytes, every: int) -> bool:
    """Whether a part starts at ``subject``: one subject in ``every``, by its CRC-32."""
    return zlib.crc32(subject) % every == 0


@dataclass
class Index:
    """Each part of one dump: its first subject, statements and piece."""

    firsts: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)  # the piece file each part is in
    sizes: list[int] = field(default_factory=list)  # its bytes
    every: int = 0  # the cutting rule: one subject in ``every`` starts a part

    @property
    def statements(self) -> int:
        return sum(self.counts)

    def to_json(self) -> dict[str, object]:
        return {
            "firsts": self.firsts,
            "counts": self.counts,
            "pieces": self.pieces,
            "sizes": self.sizes,
            "every": self.every,
        }

    @staticmethod
    def from_json(data: dict[str, list[int] | list[str] | int]) -> Index:
        return Index(**data)  # type: ignore[arg-type]


class Codec:
    """How one dump format writes a part."""

    def __init__(self, fmt: ox.RdfFormat, gzipped: bool, every: int) -> None:
        self.fmt, self.gzipped, self.every = fmt, gzipped, every
        self.header = b"[" if fmt == ox.RdfFormat.JSON_LD else b""
        self.footer = b"]" if fmt == ox.RdfFormat.JSON_LD else b""
        self._prefix_block = b""
        if fmt == ox.RdfFormat.TURTLE:
            probe = ox.Triple(ox.NamedNode("urn:x:s"), ox.NamedNode("urn:x:p"), ox.Literal("o"))
            whole = ox.serialize([probe], format=fmt, prefixes=PREFIXES) or b""
            self._prefix_block = whole[: whole.rindex(b"<urn:x:s>")]

    def opening(self, parts: int) -> bytes:
        """What the file starts with: Turtle's prefixes only when it has a statement."""
        return self.header + (self._prefix_block if parts else b"")

    def part(self, lines: list[bytes], first: bool) -> bytes:
        body = b"".join(lines)
        if self.fmt in (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS):
            return gzip_ng.compress(body, compresslevel=6, mtime=0) if self.gzipped else body
        triples = (q.triple for q in ox.parse(body, **OWN_NTRIPLES))
        prefixes = PREFIXES if self.fmt == ox.RdfFormat.TURTLE else None
        written = ox.serialize(triples, format=self.fmt, prefixes=prefixes) or b""
        if self.fmt == ox.RdfFormat.TURTLE:
            return written[len(self._prefix_block) :]
        return (b"" if first else b",") + written[1:-1]  # JSON-LD: the array's objects


def cut(lines: Iterable[bytes], every: int) -> Iterator[tuple[bytes, list[bytes]]]:
    """(first subject, lines) of each part of sorted lines."""
    first: bytes | None = None
    pending: list[bytes] = []
    subject = b""
    for line in lines:
        this = line[: line.index(b" ")]
        if this != subject:
            subject = this
            if first is None or starts_part(this, every):
                if first is not None:
                    yield first, pending
                first, pending = this, []
        pending.append(line)
    if first is not None:
        yield first, pending


# Beside a dump's pieces: the SHA-256 state after each piece (:mod:`.sha256_state`), so
# the next build's checksum starts at its first new piece.
STATES = "sha256-states"


class Pieces:
    """A dump being written into its directory, piece by piece (new or linked from the
    last build's), its SHA-256 taken on the way; the index last.

    With ``last`` (the last build's dump of the same name), the pieces that are the
    last dump's first ones, in place, are linked and not hashed: the SHA-256 takes up
    the state the last build kept after them. A patch's first rewritten part is
    usually one that did not change, so the hashing starts at the part that did (on
    average half of a big dump; none of one a change leaves alone)."""

    def __init__(self, directory: Path, last: DumpFile | None = None) -> None:
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        self.directory = directory
        self.names: list[str] = []
        self.sizes: list[int] = []
        self._token = uuid.uuid4().hex[:8]  # new pieces' names never meet linked ones'
        # Linked pieces are read into one buffer: no bytes object a piece.
        self._buffer = bytearray(1 << 20)
        self._view = memoryview(self._buffer)
        self._last = last
        self._last_states = _read_states(last) if last is not None else None
        self._shared = last is not None  # every piece so far is the last dump's, in place
        self._digest: Any = None  # started when the pieces part from the last dump's
        self.hashed = 0  # bytes this dump's SHA-256 read (the rest: taken up from a state)
        # The state after each piece, kept where it can be.
        self._states: list[bytes] | None = [] if sha256_state.resumable() else None

    def write(self, data: bytes) -> str:
        """A new piece (none for no bytes); returns its name."""
        if not data:
            return f"{self._token}-{len(self.names):06d}"
        if self._is_next_of_last(len(data), lambda old: old.read_bytes() == data):
            return self._take_last()
        name = f"{self._token}-{len(self.names):06d}"
        (self.directory / name).write_bytes(data)
        self._hashing().update(data)
        self.hashed += len(data)
        self._add(name, len(data))
        return name

    def link(self, source: Path, name: str) -> None:
        """The piece ``name`` of the dump in ``source``, the same file."""
        if self._is_next_of_last(None, lambda old: old.name == name and old.parent == source):
            self._take_last()
            return
        os.link(source / name, self.directory / name)
        self._add(name, self._hash_piece(name))

    def _is_next_of_last(self, size: int | None, same: Callable[[Path], bool]) -> bool:
        """Whether the next piece is the last dump's at this place (``size``: the new
        piece's, when it is bytes); the first one that is not ends the sharing."""
        last, at = self._last, len(self.names)
        self._shared = (
            self._shared
            and last is not None
            and at < len(last.names)
            and (size is None or last.sizes[at] == size)
            and same(last.directory / last.names[at])
        )
        return self._shared

    def _take_last(self) -> str:
        assert self._last is not None
        at = len(self.names)
        name = self._last.names[at]
        os.link(self._last.directory / name, self.directory / name)
        self.names.append(name)
        self.sizes.append(self._last.sizes[at])
        if self._states is not None and self._last_states is not None:
            self._states.append(self._last_states[at])
        return name

    def _hashing(self) -> Any:
        """The SHA-256 of the pieces so far, ready for more: taken up from the state
        the last build kept after the pieces shared with it, or hashed from the start."""
        if self._digest is not None:
            return self._digest
        shared = len(self.names)
        if shared and self._last_states is not None and self._states is not None:
            self._digest = sha256_state.Sha256(self._last_states[shared - 1])
            return self._digest
        self._digest = sha256_state.Sha256() if self._states is not None else hashlib.sha256()
        names, self.names, self.sizes = self.names, [], []
        if self._states is not None:
            self._states = []
        for name in names:
            self._add(name, self._hash_piece(name))
        return self._digest

    def _hash_piece(self, name: str) -> int:
        digest, size = self._hashing(), 0
        with (self.directory / name).open("rb", buffering=0) as piece:
            while count := piece.readinto(self._buffer):
                digest.update(self._view[:count])
                size += count
        self.hashed += size
        return size

    def _add(self, name: str, size: int) -> None:
        if self._states is not None:
            self._states.append(self._hashing().state())
        self.names.append(name)
        self.sizes.append(size)

    def close(self) -> DumpFile:
        digest = self._hashing().hexdigest()
        if self._states is not None:
            (self.directory / STATES).write_bytes(b"".join(self._states))
        return write_index(self.directory, self.names, self.sizes, digest)


def _read_states(dump: DumpFile) -> list[bytes] | None:
    """The SHA-256 states the last build kept, after each of its pieces; None when
    there are none to trust (another implementation's, or counts that disagree)."""
    if not sha256_state.resumable():
        return None
    try:
        body = (dump.directory / STATES).read_bytes()
    except OSError:
        return None
    size = sha256_state.STATE_SIZE
    if len(body) != size * len(dump.names):
        return None
    states = [body[at : at + size] for at in range(0, len(body), size)]
    if states and sha256_state.Sha256(states[-1]).length != dump.size:
        return None
    return states


def write(target: Path, codec: Codec, lines: Iterable[bytes]) -> tuple[Index, DumpFile]:
    """The dump of ``lines`` (sorted, distinct) in parts, into the directory ``target``."""
    parts = cut(lines, codec.every)
    index = Index(every=codec.every)
    out = Pieces(target)
    first = next(parts, None)
    out.write(codec.opening(1 if first else 0))
    if first is not None:
        _write_parts(out, codec, itertools.chain([first], parts), index, first_in_file=True)
    out.write(codec.footer)
    return index, out.close()


def _write_parts(
    out: Pieces,
    codec: Codec,
    parts: Iterable[tuple[bytes, list[bytes]]],
    index: Index,
    *,
    first_in_file: bool,
) -> None:
    for n, (first, lines) in enumerate(parts):
        body = codec.part(lines, first_in_file and n == 0)
        index.firsts.append(first.decode())
        index.counts.append(len(lines))
        index.pieces.append(out.write(body))
        index.sizes.append(len(body))


def patch(
    old: Path,
    old_index: Index,
    target: Path,
    codec: Codec,
    changed: set[bytes],
    lines_between: Callable[[bytes | None, bytes | None], Iterable[bytes]],
) -> tuple[Index, DumpFile] | None:
    """The dump ``old`` with the parts holding a subject of ``changed`` written anew
    from ``lines_between(first, stop)`` (the new sorted lines of the subjects from
    ``first`` up to, not including, ``stop``; None: from the start, to the end), every
    other part linked, into the directory ``target``. Its index and the dump, or None
    when it is better written whole (a file of fewer than three parts, or one left
    empty)."""
    count = len(old_index.firsts)
    if count < 3 or old_index.every != codec.every:
        return None
    firsts = [f.encode() for f in old_index.firsts]
    regions = rewritten(firsts, changed, lines_between, codec.every)
    index = Index(every=codec.every)
    out = Pieces(target, DumpFile.at(old))
    out.write(codec.opening(1))
    copied = 0  # the next old part to link
    for start, stop, made in regions:
        _link_parts(old, old_index, copied, start, out, index)
        _write_parts(out, codec, made, index, first_in_file=not index.firsts)
        copied = stop + 1
    _link_parts(old, old_index, copied, count, out, index)
    if not index.firsts:
        shutil.rmtree(target)
        return None
    out.write(codec.footer)
    return index, out.close()


Region = tuple[int, int, list[tuple[bytes, list[bytes]]]]


def rewritten(
    firsts: list[bytes],
    changed: set[bytes],
    lines_between: Callable[[bytes | None, bytes | None], Iterable[bytes]],
    every: int,
) -> list[Region]:
    """Which runs of parts a change rewrites, and their new parts: ``(start, stop,
    parts)`` for the old parts ``start`` to ``stop`` (inclusive), in order. A changed
    subject's part and one part either side are rewritten: a cut whose subject went or
    came moves into them, and the run starts at an unchanged cut, so the new parts are
    those a whole write would cut (``firsts``: each old part's first subject; at least
    three; ``lines_between`` as in :func:`patch`)."""
    count = len(firsts)
    regions: list[list[int]] = []
    for part in sorted({max(bisect.bisect_right(firsts, s) - 1, 0) for s in changed}):
        start, stop = max(part - 1, 0), min(part + 1, count - 1)
        if regions and start <= regions[-1][1] + 1:
            regions[-1][1] = max(regions[-1][1], stop)
        else:
            regions.append([start, stop])
    made: list[Region] = []
    position = 0
    while position < len(regions):
        start, stop = regions[position]
        lines = lines_between(
            firsts[start] if start else None, firsts[stop + 1] if stop + 1 < count else None
        )
        parts = list(cut(lines, every))
        if not parts and start == 0 and stop + 1 < count:
            # The file's first part (no JSON-LD comma) must come from this region.
            regions[position][1] += 1
            if position + 1 < len(regions) and regions[position + 1][0] <= stop + 2:
                regions[position][1] = regions.pop(position + 1)[1]
            continue
        made.append((start, stop, parts))
        position += 1
    return made


def _link_parts(source: Path, old: Index, start: int, stop: int, out: Pieces, index: Index) -> None:
    for part in range(start, stop):
        out.link(source, old.pieces[part])
        index.firsts.append(old.firsts[part])
        index.counts.append(old.counts[part])
        index.pieces.append(old.pieces[part])
        index.sizes.append(old.sizes[part])
