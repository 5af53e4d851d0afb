"""Per-file caches under ``build/cache/``, keyed by content, so unchanged files cost nothing.

- ``hashes.json``: each source file's SHA-256 with the size, modification time and
  inode it had when hashed (what git's index keeps), so listing 100,000 unchanged
  files reads none of them (see :class:`HashCache`).
- ``parse/<version>-<sha256>.nt``: a file's triples as N-Triples (blank nodes already
  stable). The key is the file's content hash: same bytes, same parse.
- ``validate/<key>.json``: see :mod:`validate` (keyed by what the file's validation
  sees; used by ``engagements validate FILE``).
- ``reason/<key>.nt``: the inferred graph as sorted N-Triples, keyed by the engine and
  the hashes of every ontology and data file. OWL 2 RL is not file-local — one new
  ``rdfs:subClassOf`` or ``owl:sameAs`` can change inferences about any entity — so
  after any change the closure is recomputed over everything; only an unchanged input
  set reuses it.

Cache entries are written to a temporary name and renamed, so a crash leaves no half
entry.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from defence_engagements.pipeline.parse import ParsedFile, SourceFile, read_source

CACHE_VERSION = "3"


class ParseCache:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory / "parse" if directory else None
        self.hits = 0
        self.misses = 0

    def get(self, source: SourceFile) -> ParsedFile | None:
        """The cached parse, left on disk until its triples are used."""
        if self.directory is None:
            return None
        path = self.directory / f"{CACHE_VERSION}-{source.sha256}.nt"
        if not path.is_file():
            self.misses += 1
            return None
        self.hits += 1
        return ParsedFile(source, stored_at=path)

    def put(self, parsed: ParsedFile) -> None:
        """Store the parse; the file's bytes then live in the cache, not in memory."""
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{CACHE_VERSION}-{parsed.source.sha256}.nt"
        _atomic_write(path, parsed.ntriples)
        parsed.stored_at = path
        parsed.content = None
        parsed.release()


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
                self._entries = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._entries = {}

    def source(self, path: Path, name: str, role: str) -> SourceFile:
        """The file as :func:`read_source` gives it, read only when it may have changed."""
        try:
            stat = path.stat()
        except OSError:
            return read_source(path, name, role)[0]  # says what is wrong
        key = str(path)
        entry = self._entries.get(key)
        if (
            entry is not None
            and entry[:3] == [stat.st_size, stat.st_mtime_ns, stat.st_ino]
            and stat.st_mtime_ns + self.RACY_NS < int(entry[3])
        ):
            return SourceFile(path, name, role, str(entry[4]))
        hashed_at = time.time_ns()
        source = read_source(path, name, role)[0]
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
        _atomic_write(self.path, json.dumps(entries).encode())


class ReasoningCache:
    """The inferred graph of a set of inputs, as the sorted N-Triples file the store and
    the dumps are made from."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory / "reason" if directory else None

    def get(self, key: str) -> Path | None:
        if self.directory is None:
            return None
        path = self.directory / f"{key}.nt"
        return path if path.is_file() else None

    def put(self, key: str, made: Path) -> Path:
        """Keep the file ``made`` (moved into the cache); returns where it now is."""
        if self.directory is None:
            return made
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{key}.nt"
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.move(made, temporary)
        temporary.replace(target)
        _prune(self.directory, keep=2)
        return target


def _atomic_write(path: Path, body: bytes | None) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(body or b"")
    temporary.replace(path)


def _prune(directory: Path, keep: int) -> None:
    entries = sorted(directory.glob("*.nt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[keep:]:
        stale.unlink(missing_ok=True)
