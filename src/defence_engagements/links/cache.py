"""An on-disk cache of SPARQL answers, keyed by endpoint and query text.

Checking an unchanged dataset sends the same queries again, so their answers
come from here without a request. Entries older than the time-to-live are
ignored (Wikidata changes: items get merged, labels edited), and ``refresh``
bypasses the cache while still refreshing it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

CACHE_SUBDIR = Path("cache") / "links"


class ResponseCache:
    def __init__(self, directory: Path, *, ttl: float) -> None:
        self.directory = directory
        self.ttl = ttl

    @staticmethod
    def key(endpoint: str, query: str) -> str:
        return hashlib.sha256(f"{endpoint}\n{query}".encode()).hexdigest()

    def _path(self, endpoint: str, query: str) -> Path:
        return self.directory / f"{self.key(endpoint, query)}.json"

    def get(self, endpoint: str, query: str) -> dict[str, Any] | None:
        path = self._path(endpoint, query)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or time.time() - entry.get("stored_at", 0) > self.ttl:
            return None
        if entry.get("endpoint") != endpoint or entry.get("query") != query:
            return None
        result = entry.get("result")
        return result if isinstance(result, dict) else None

    def put(self, endpoint: str, query: str, result: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        entry = {"endpoint": endpoint, "query": query, "stored_at": time.time(), "result": result}
        # Write then rename, so a reader never sees half an entry.
        handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(entry, out, ensure_ascii=False)
        os.replace(temporary, self._path(endpoint, query))
