"""The published build as the web layer sees it: version, time, counts, dumps.

The app never opens the store itself (queries go through an executor); it only
needs the manifest, for ETags, VoID and the dumps index. :class:`LocalBuildProvider`
re-resolves ``build/current`` on every call, so a new build is seen at once.
Another provider (for instance one describing a remote store) only has to offer
``current()``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from defence_engagements.errors import StoreUnavailableError
from defence_engagements.store import DUMPS_DIRNAME, read_manifest


@dataclass(frozen=True)
class BuildInfo:
    version: str
    built_at: str  # ISO 8601
    graphs: dict[str, int] = field(default_factory=dict)  # named graph IRI → triples
    dumps_dir: Path | None = None  # None when the dumps are not served from here

    @property
    def triples(self) -> int:
        return sum(self.graphs.values())


class BuildProvider(Protocol):
    def current(self) -> BuildInfo: ...


class LocalBuildProvider:
    def __init__(self, current_link: Path) -> None:
        self.current_link = current_link
        self._lock = threading.Lock()
        # (what the link said, where it led, the build there), replaced as one value.
        self._cached: tuple[str | None, Path, BuildInfo] | None = None

    def current(self) -> BuildInfo:
        # Asked on every request (ETags): one readlink tells whether the link still
        # points where it did; a switch replaces the link, so its text changes.
        try:
            link_text: str | None = os.readlink(self.current_link)
        except OSError:
            link_text = None  # missing, or not a symlink: the long way below
        cached = self._cached
        if cached is not None and link_text is not None and link_text == cached[0]:
            return cached[2]
        if not self.current_link.exists():
            raise StoreUnavailableError(
                f"no published build at {self.current_link}; run `engagements build` first"
            )
        root = self.current_link.resolve()
        with self._lock:
            if self._cached is None or self._cached[1] != root:
                manifest = read_manifest(root)
                info = BuildInfo(
                    version=str(manifest.get("version", root.name)),
                    built_at=str(manifest.get("built_at", "")),
                    graphs={str(k): int(v) for k, v in (manifest.get("graphs") or {}).items()},
                    dumps_dir=root / DUMPS_DIRNAME,
                )
            else:
                info = self._cached[2]
            self._cached = (link_text, root, info)
            return info
