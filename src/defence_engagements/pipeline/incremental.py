"""Per-file caches under ``build/cache/``, keyed by content, so unchanged files cost nothing.

- ``hashes.json``: each source file's SHA-256 with the size, modification time and
  inode it had when hashed (what git's index keeps), so listing 100,000 unchanged
  files reads none of them (see :class:`HashCache`).
- ``parse/<version>-<writer>.nt`` and ``.idx``: files' triples as N-Triples (blank
  nodes already stable), appended to one pack per writing process, and the index of
  where each lies (``<sha256> <offset> <length>`` lines, written after the bytes). The
  key is the file's content hash: same bytes, same parse. Packs, not a file per
  source: writing 100,000 small files cost a 100,000-engagement build ~2 minutes of
  disk contention (235 s with the cache in memory against ~360 s). Each build that
  parses adds a pack, and entries of edited or removed files stay behind: after a
  build, packs with more dead bytes than live ones, and the small packs once there
  are more than ``MAX_PACKS``, are rewritten into one (:meth:`ParseCache.compact`),
  so a cache edited for years stays about the size of one build's parses.
- ``validate/<key>.json``: see :mod:`validate` (keyed by what the file's validation
  sees; used by ``engagements validate FILE``).
- ``asserted/<key>.nt`` and ``.dups``: the data graph as a graph file and its lines
  stated more than once, keyed by the hashes of every ontology and data file: what a
  rebuild patches and counts statements with (:class:`AssertedCache`).
- ``reach/<key>.json``: a SPARQL constraint's patterns as :mod:`.reach` analyses them,
  keyed by the query's text.
- ``reason/<key>.nt``: the inferred graph as a graph file, keyed by the engine and
  the hashes of every ontology and data file. An unchanged input set reuses it; after
  a few changed data files the last build's entry (its key is in ``build.json``) is
  what :mod:`.rebuild` revises; after any other change the closure is computed anew.

Cache entries are written to a temporary name and renamed, so a crash leaves no half
entry.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path
from typing import BinaryIO, TextIO

import orjson

from defence_engagements.pipeline.graph_file import GraphFile, remove
from defence_engagements.pipeline.parse import ParsedFile, SourceFile, read_source

CACHE_VERSION = "4"
_INDEX_LINE = re.compile(r"^(\S+) (\d+) (\d+)\n", re.MULTILINE)
# Packs, and the share of dead bytes, a parse cache may hold before it is compacted.
MAX_PACKS = 16
MAX_DEAD_SHARE = 0.5
# Up to this many lookups are answered by searching the packs' indexes for the key;
# more read every index into a dict once (a rebuild asks for a few, a build for all:
# reading 100,000 entries takes half a second).
FEW_LOOKUPS = 64
DEAD_BYTES = "dead.json"  # in the parse cache: each pack's dead bytes, as last counted


class ParseCache:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory / "parse" if directory else None
        self.hits = 0
        self.misses = 0
        self._index: dict[str, tuple[Path, int, int]] | None = None
        self._index_texts: list[tuple[Path, bytes]] | None = None  # for a few lookups
        self._lookups = 0
        self._put_here: dict[str, tuple[Path, int, int]] = {}
        self._pack: BinaryIO | None = None  # this process's pack, opened on first put
        self._pack_index: TextIO | None = None
        self._pack_path: Path | None = None

    def __getstate__(self) -> dict[str, object]:
        # Sent to parse workers: each opens a pack of its own.
        return {"directory": self.directory, "hits": 0, "misses": 0}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(None)  # type: ignore[misc]
        self.__dict__.update(state)

    def get(self, source: SourceFile) -> ParsedFile | None:
        """The cached parse, left on disk until its triples are used."""
        if self.directory is None:
            return None
        entry = self._entry(source.sha256)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        pack, offset, length = entry
        return ParsedFile(source, stored_at=pack, stored_span=(offset, length))

    def put(self, parsed: ParsedFile) -> None:
        """Store the parse; the file's bytes then live in the cache, not in memory."""
        if self.directory is None:
            return
        if self._pack is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{CACHE_VERSION}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
            self._pack_path = self.directory / f"{name}.nt"
            self._pack = self._pack_path.open("ab")
            self._pack_index = (self.directory / f"{name}.idx").open("a", encoding="ascii")
        assert self._pack is not None and self._pack_index is not None
        assert self._pack_path is not None
        body = parsed.ntriples
        offset = self._pack.tell()
        self._pack.write(body)
        self._pack.flush()  # the bytes before the index line that points at them
        self._pack_index.write(f"{parsed.source.sha256} {offset} {len(body)}\n")
        self._pack_index.flush()
        self._put_here[parsed.source.sha256] = (self._pack_path, offset, len(body))
        if self._index is not None:
            self._index[parsed.source.sha256] = (self._pack_path, offset, len(body))
        parsed.stored_at, parsed.stored_span = self._pack_path, (offset, len(body))
        parsed.content = None
        parsed.release()

    def compact(
        self,
        live: set[str],
        *,
        max_packs: int = MAX_PACKS,
        max_dead_share: float = MAX_DEAD_SHARE,
        superseded: list[ParsedFile] | None = None,
    ) -> int:
        """Rewrite packs that are mostly dead (more than ``max_dead_share`` of their bytes
        belong to no entry of ``live``: the content hashes of the build just published)
        and, once there are more than ``max_packs`` packs, the small ones, into one new
        pack of their live entries. Big, live packs (a first build's) are left as they
        are, so a rebuild does not copy the whole cache. Returns how many packs went.

        The new pack and its index are complete before any old pack goes, so a crash
        leaves entries twice (the same bytes), never none. Run under the build lock; a
        reader that looked an entry up before its pack went parses the file again
        (:attr:`ParsedFile.ntriples`).

        Whether any pack is that dead is known without reading every index when the
        build says which entries it may have left dead (``superseded``: a rebuild's
        changed files as last parsed): ``dead.json`` keeps each pack's dead bytes as
        last counted, and those entries' bytes are added to it."""
        if self.directory is None or not self.directory.is_dir():
            return 0
        packs = sorted(self.directory.glob(f"{CACHE_VERSION}-*.nt"))
        sizes = {pack: pack.stat().st_size for pack in packs}
        counts = self._dead_bytes() if superseded is not None else None
        judged = packs  # the packs whose indexes are read
        if counts is not None and len(packs) <= max_packs:
            counts = {p.name: counts.get(p.name, 0) for p in packs}
            for parsed in superseded or ():
                if parsed.source.sha256 not in live and parsed.stored_at is not None:
                    assert parsed.stored_span is not None
                    name = parsed.stored_at.name
                    counts[name] = counts.get(name, 0) + parsed.stored_span[1]
            _atomic_write(self.directory / DEAD_BYTES, orjson.dumps(counts))
            judged = [p for p in packs if counts[p.name] > max_dead_share * sizes[p]]
            if not judged:
                return 0
        else:
            counts = {}
        # The judged packs' live entries, each from its own index (no dict of every
        # entry: that took a rebuild at 100,000 files half a second).
        kept: dict[str, tuple[Path, int, int]] = {}
        for pack in judged:
            try:
                text = pack.with_suffix(".idx").read_text(encoding="ascii", errors="replace")
            except OSError:
                text = ""  # a pack without its index holds nothing reachable
            for key, offset, length in _INDEX_LINE.findall(text):
                if key in live:
                    kept[key] = (pack, int(offset), int(length))  # the last pack's, as read
        live_bytes = dict.fromkeys(judged, 0)
        for pack, _, length in kept.values():
            live_bytes[pack] += length
        dead = {p for p in judged if live_bytes[p] < (1 - max_dead_share) * sizes[p]}
        total = sum(sizes.values())
        small = {p for p in packs if sizes[p] < total / max_packs}
        chosen = dead | small if len(packs) > max_packs else dead
        counted = {
            p.name: sizes[p] - live_bytes[p] if p in live_bytes else counts[p.name]
            for p in packs
            if p not in chosen
        }
        _atomic_write(self.directory / DEAD_BYTES, orjson.dumps(counted))
        if not dead and len(chosen) < 2:
            return 0
        self._close_pack()
        name = f"{CACHE_VERSION}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        target = self.directory / f".{name}.nt.tmp"
        moved = sorted(
            ((key, entry) for key, entry in kept.items() if entry[0] in chosen), key=_by_place
        )
        index: list[str] = []
        with target.open("wb") as out:
            for key, (pack, offset, length) in moved:
                with pack.open("rb") as source:
                    source.seek(offset)
                    body = source.read(length)
                index.append(f"{key} {out.tell()} {len(body)}\n")
                out.write(body)
        compacted = target.replace(self.directory / f"{name}.nt")
        _atomic_write(self.directory / f"{name}.idx", "".join(index).encode("ascii"))
        for pack in chosen:
            pack.with_suffix(".idx").unlink(missing_ok=True)  # its entries first
            pack.unlink(missing_ok=True)
        self.reload()
        if not index:
            compacted.unlink()
            (self.directory / f"{name}.idx").unlink()
        return len(chosen)

    def _dead_bytes(self) -> dict[str, int] | None:
        """Each pack's dead bytes as last counted, or None when they never were."""
        assert self.directory is not None
        try:
            counted = orjson.loads((self.directory / DEAD_BYTES).read_bytes())
            return {str(k): int(v) for k, v in counted.items()}
        except (OSError, ValueError, AttributeError):
            return None

    def reload(self) -> None:
        """Read the packs' indexes again when next asked (other processes added some)."""
        self._index = None
        self._index_texts = None
        self._put_here = {}

    def _close_pack(self) -> None:
        for handle in (self._pack, self._pack_index):
            if handle is not None:
                handle.close()
        self._pack = self._pack_index = None
        self._pack_path = None

    def _entry(self, key: str) -> tuple[Path, int, int] | None:
        if self._index is not None:
            return self._index.get(key)
        if key in self._put_here:
            return self._put_here[key]
        self._lookups += 1
        if self._lookups > FEW_LOOKUPS:
            return self._entries().get(key)
        return self._searched(key)

    def _searched(self, key: str) -> tuple[Path, int, int] | None:
        """The entry of ``key`` found in the indexes' text, as :meth:`_entries` reads
        it (the last pack that has it; a line without its newline does not count)."""
        if self._index_texts is None:
            self._index_texts = [
                (index.with_suffix(".nt"), index.read_bytes()) for index in self._index_files()
            ]
        needle = key.encode("ascii", errors="replace") + b" "
        found = None
        for pack, text in self._index_texts:
            at = text.find(needle)
            while at > 0 and text[at - 1] != 0x0A:  # a line's start, not inside one
                at = text.find(needle, at + 1)
            end = text.find(b"\n", at) if at != -1 else -1
            match = (
                _INDEX_LINE.match(text[at : end + 1].decode("ascii", "replace"))
                if end != -1
                else None
            )
            if match:
                found = (pack, int(match[2]), int(match[3]))
        return found

    def _index_files(self) -> list[Path]:
        if self.directory is None or not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"{CACHE_VERSION}-*.idx"))

    def _entries(self) -> dict[str, tuple[Path, int, int]]:
        """Every pack's index, read once (a line cut short by a crash is left out)."""
        if self._index is None:
            self._index = {}
            for index in self._index_files():
                pack = index.with_suffix(".nt")
                text = index.read_text(encoding="ascii", errors="replace")
                # A line counts once its newline is written: a line a crash cut short
                # matches no entry (the pattern wants its newline).
                for key, offset, length in _INDEX_LINE.findall(text):
                    self._index[key] = (pack, int(offset), int(length))
            self._index.update(self._put_here)
        return self._index


class HashCache:
    """Content hashes remembered by each file's size, modification time and inode.

    A file whose three are those it had when hashed is taken to hold the same bytes:
    the trade git and make make. A file modified less than ``RACY_NS`` before it was
    hashed may change again without its time moving (coarse clocks), so it is hashed
    anew each time until it is older (git's "racily clean" entries). A build with
    ``--force`` hashes every file.
    """

    RACY_NS = 2_000_000_000

    def __init__(self, directory: Path | None) -> None:
        self.path = directory / "hashes.json" if directory else None
        self._entries: dict[str, list[int | str]] = {}
        self._changed = False
        self.hashed = 0  # files read this time
        if self.path is not None:
            try:
                self._entries = orjson.loads(self.path.read_bytes())
            except (OSError, ValueError):
                self._entries = {}

    def source(self, path: str, name: str, role: str) -> SourceFile:
        """The file as :func:`read_source` gives it, read only when it may have changed."""
        try:
            stat = os.stat(path)
        except OSError:
            return read_source(Path(path), name, role)[0]  # says what is wrong
        key = path
        entry = self._entries.get(key)
        if (
            entry is not None
            and entry[:3] == [stat.st_size, stat.st_mtime_ns, stat.st_ino]
            and stat.st_mtime_ns + self.RACY_NS < int(entry[3])
        ):
            return SourceFile(path, name, role, str(entry[4]))
        hashed_at = time.time_ns()
        source = read_source(Path(path), name, role)[0]
        self.hashed += 1
        self._entries[key] = [stat.st_size, stat.st_mtime_ns, stat.st_ino, hashed_at, source.sha256]
        self._changed = True
        return source

    def save(self, keep: set[str]) -> None:
        """Write the entries of the files in ``keep`` (those listed this time)."""
        if self.path is None or not (self._changed or set(self._entries) - keep):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entries = {key: value for key, value in self._entries.items() if key in keep}
        _atomic_write(self.path, orjson.dumps(entries))


class ReasoningCache:
    """The inferred graph of a set of inputs, as the graph file (:mod:`.graph_file`)
    the store and the dumps are made from."""

    SUBDIRECTORY = "reason"

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory / self.SUBDIRECTORY if directory else None

    def get(self, key: str) -> GraphFile | None:
        if self.directory is None:
            return None
        return GraphFile.at(self.directory / f"{key}.nt")

    def put(self, key: str, made: GraphFile) -> GraphFile:
        """Keep the graph file ``made`` (moved into the cache); returns where it now is."""
        if self.directory is None:
            return made
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{key}.nt"
        # One rename: a graph file is not one before its index is in (a crash leaves
        # no entry, or a whole one).
        remove(target)  # the same inputs' entry, kept again
        moved = made.move(target)
        _prune(self.directory, keep=2)
        return moved


class AssertedCache(ReasoningCache):
    """The data graph of a set of inputs, as its graph file, and beside it
    (``<key>.dups``) the lines more than one statement gave, once per extra statement:
    with them a rebuild knows whether another file still states a triple without
    reading every file (see :mod:`.rebuild`)."""

    SUBDIRECTORY = "asserted"

    def put_with(self, key: str, made: GraphFile, duplicates: list[bytes]) -> GraphFile:
        assert self.directory is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.directory / f"{key}.dups", b"".join(sorted(duplicates)))
        placed = self.put(key, made)
        kept = {path.stem for path in self.directory.glob("*.nt")}
        for companion in self.directory.glob("*.dups"):
            if companion.stem not in kept:
                companion.unlink(missing_ok=True)
        return placed

    def duplicates(self, key: str) -> list[bytes] | None:
        if self.directory is None:
            return None
        try:
            return (self.directory / f"{key}.dups").read_bytes().splitlines(keepends=True)
        except OSError:
            return None


def _by_place(item: tuple[str, tuple[Path, int, int]]) -> tuple[str, int]:
    # Pack by pack, front to back: the copy reads each pack once, in order.
    _, (pack, offset, _) = item
    return (pack.name, offset)


def _atomic_write(path: Path, body: bytes | None) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(body or b"")
    temporary.replace(path)


def _prune(directory: Path, keep: int) -> None:
    entries = sorted(directory.glob("*.nt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[keep:]:
        remove(stale)  # its parts shared with a kept entry stay (hard links)
