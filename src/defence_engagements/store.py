"""The only module that opens a pyoxigraph ``Store``.

Layout of ``build/`` (see docs/ARCHITECTURE.md):

    build/builds/<build-id>/store/       the pyoxigraph store (RocksDB)
    build/builds/<build-id>/dumps/       dump files, SHA256SUMS, void.ttl
    build/builds/<build-id>/build.json   the manifest: version, built_at, counts, timings
    build/current  -> builds/<build-id>  switched atomically once every step succeeded
    build/previous -> builds/<build-id>  kept for `engagements rollback`
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph

from defence_engagements.errors import StoreUnavailableError

STORE_DIRNAME = "store"
DUMPS_DIRNAME = "dumps"
MANIFEST_NAME = "build.json"


@dataclass(frozen=True)
class PublishedBuild:
    """One published build, opened read-only."""

    root: Path  # the resolved build directory (builds/<build-id>)
    store: pyoxigraph.Store
    manifest: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def built_at(self) -> str:
        return str(self.manifest["built_at"])

    @property
    def dumps_dir(self) -> Path:
        return self.root / DUMPS_DIRNAME


def read_manifest(build_root: Path) -> dict[str, Any]:
    try:
        return json.loads((build_root / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreUnavailableError(
            f"{build_root}: not a complete build ({exc}); run `engagements build`"
        ) from exc


def open_published_build(link: Path) -> PublishedBuild:
    """Open the build a ``current``/``previous`` link points at, read-only."""
    if not link.exists():
        raise StoreUnavailableError(
            f"no published build at {link}; run `engagements build` first"
        )
    root = link.resolve()
    manifest = read_manifest(root)
    try:
        store = pyoxigraph.Store.read_only(str(root / STORE_DIRNAME))
    except OSError as exc:
        raise StoreUnavailableError(f"cannot open the store in {root}: {exc}") from exc
    return PublishedBuild(root=root, store=store, manifest=manifest)


def open_writable_store(path: Path) -> pyoxigraph.Store:
    """A fresh on-disk store for the build stage (never the published one)."""
    try:
        return pyoxigraph.Store(str(path))
    except OSError as exc:
        raise StoreUnavailableError(f"cannot open {path} for writing: {exc}") from exc
