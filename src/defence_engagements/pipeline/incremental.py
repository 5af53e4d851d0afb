"""Per-file caches under ``build/cache/``, keyed by content, so unchanged files cost nothing.

- ``parse/<sha256>.nt`` + ``.json``: a file's triples (blank nodes already stable) and
  its subject → line index. The key is the file's content hash: same bytes, same parse.
- ``validate/<key>.json``: see :mod:`validate` (keyed by what the file's validation sees).
- ``reason/<key>.nt``: the inferred graph, keyed by the digest of every asserted triple
  and the engine. OWL 2 RL is not file-local — one new ``rdfs:subClassOf`` or
  ``owl:sameAs`` can change inferences about any entity — so after any change the
  closure is recomputed over everything; only an unchanged input set reuses it.

Cache entries are written to a temporary name and renamed, so a crash leaves no
half entry; an unreadable entry is simply a miss.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyoxigraph as ox

from defence_engagements.pipeline.parse import ParsedFile, SourceFile

CACHE_VERSION = "2"


class ParseCache:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory / "parse" if directory else None
        self.hits = 0
        self.misses = 0

    def get(self, source: SourceFile) -> ParsedFile | None:
        if self.directory is None:
            return None
        stem = self.directory / f"{CACHE_VERSION}-{source.sha256}"
        try:
            triples = [
                q.triple
                for q in ox.parse(path=stem.with_suffix(".nt"), format=ox.RdfFormat.N_TRIPLES)
            ]
        except (OSError, ValueError, SyntaxError):
            self.misses += 1
            return None
        self.hits += 1
        return ParsedFile(source, triples)

    def put(self, parsed: ParsedFile) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = self.directory / f"{CACHE_VERSION}-{parsed.source.sha256}"
        _atomic_write(
            stem.with_suffix(".nt"), ox.serialize(parsed.triples, format=ox.RdfFormat.N_TRIPLES)
        )


class ReasoningCache:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory / "reason" if directory else None

    def get(self, key: str) -> set[ox.Triple] | None:
        if self.directory is None:
            return None
        try:
            path = self.directory / f"{key}.nt"
            return {q.triple for q in ox.parse(path=path, format=ox.RdfFormat.N_TRIPLES)}
        except (OSError, ValueError, SyntaxError):
            return None

    def put(self, key: str, triples: set[ox.Triple]) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        body = ox.serialize(sorted(triples, key=str), format=ox.RdfFormat.N_TRIPLES)
        _atomic_write(self.directory / f"{key}.nt", body or b"")
        _prune(self.directory, keep=4)


def _atomic_write(path: Path, body: bytes | None) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(body or b"")
    temporary.replace(path)


def _prune(directory: Path, keep: int) -> None:
    entries = sorted(directory.glob("*.nt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[keep:]:
        stale.unlink(missing_ok=True)
