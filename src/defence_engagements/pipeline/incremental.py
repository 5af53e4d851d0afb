"""Per-file caches under ``build/cache/``, keyed by content, so unchanged files cost nothing.

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

import os
import shutil
from pathlib import Path

from defence_engagements.pipeline.parse import ParsedFile, SourceFile

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
