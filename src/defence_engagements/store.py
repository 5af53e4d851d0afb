"""The only module that opens a pyoxigraph ``Store``.

Layout of ``build/`` (see docs/ARCHITECTURE.md):

    build/builds/<build-id>/store/       the pyoxigraph store (RocksDB)
    build/builds/<build-id>/dumps/       dumps, SHA256SUMS, void.ttl: each a directory
                                         of pieces served as one file (dump_files.py)
    build/builds/<build-id>/build.json   the manifest: version, built_at, counts, timings
    build/current  -> builds/<build-id>  switched atomically once every step succeeded
    build/previous -> builds/<build-id>  kept for `engagements rollback`
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
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
        return orjson.loads((build_root / MANIFEST_NAME).read_bytes())
    except (OSError, ValueError) as exc:
        raise StoreUnavailableError(
            f"{build_root}: not a complete build ({exc}); run `engagements build`"
        ) from exc


def open_published_build(link: Path) -> PublishedBuild:
    """Open the build a ``current``/``previous`` link points at, read-only."""
    if not link.exists():
        raise StoreUnavailableError(f"no published build at {link}; run `engagements build` first")
    root = link.resolve()
    manifest = read_manifest(root)
    try:
        store = pyoxigraph.Store.read_only(str(root / STORE_DIRNAME))
    except OSError as exc:
        raise StoreUnavailableError(f"cannot open the store in {root}: {exc}") from exc
    return PublishedBuild(root=root, store=store, manifest=manifest)


class CurrentBuild:
    """The build a ``current`` link points at, opened once and reopened after a switch.

    One ``readlink`` per call: a switch replaces the link, so its text changes. A
    caller that is still using the old build keeps its reference until it is done.
    """

    def __init__(self, link: Path) -> None:
        self.link = link
        self._build: PublishedBuild | None = None
        self._link_text: str | None = None

    def get(self) -> PublishedBuild:
        try:
            link_text: str | None = os.readlink(self.link)
        except OSError:
            link_text = None  # missing, or not a symlink: resolve it the long way
        if self._build is not None and link_text is not None and link_text == self._link_text:
            return self._build
        target = self.link.resolve()
        if self._build is None or self._build.root != target:
            self._build = None  # release the old store before opening the new one
            self._build = open_published_build(self.link)
        self._link_text = link_text
        return self._build


def open_writable_store(path: Path) -> pyoxigraph.Store:
    """A fresh on-disk store for the build stage (never the published one)."""
    try:
        return pyoxigraph.Store(str(path))
    except OSError as exc:
        raise StoreUnavailableError(f"cannot open {path} for writing: {exc}") from exc


BUILDS_DIRNAME = "builds"
CACHE_DIRNAME = "cache"
KEEP_BUILDS = 3  # besides current and previous: a server may still read an older one


def checkpoint_store(source: Path, target: Path) -> None:
    """A copy of the store in ``source`` at ``target`` (a RocksDB checkpoint: hard links
    to its immutable files, so milliseconds at any size), to be opened writable while
    the original stays as it was."""
    try:
        open_store_read_only(source).backup(str(target))
    except OSError as exc:
        raise StoreUnavailableError(f"cannot copy the store {source} to {target}: {exc}") from exc


def open_store_read_only(path: Path) -> pyoxigraph.Store:
    try:
        return pyoxigraph.Store.read_only(str(path))
    except OSError as exc:
        raise StoreUnavailableError(f"cannot open the store in {path}: {exc}") from exc


def builds_root(build_dir: Path) -> Path:
    return build_dir / BUILDS_DIRNAME


def cache_root(build_dir: Path) -> Path:
    return build_dir / CACHE_DIRNAME


def switch_link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` atomically: a new symlink renamed over the old one."""
    relative = os.path.relpath(target, link.parent)
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    os.symlink(relative, temporary)
    os.replace(temporary, link)


def publish_build(build_dir: Path, new_build: Path) -> None:
    """Make ``new_build`` current and the old current previous; then prune old builds."""
    current, previous = build_dir / "current", build_dir / "previous"
    old = current.resolve() if current.exists() else None
    if old is not None and old != new_build.resolve():
        switch_link(previous, old)
    switch_link(current, new_build)
    prune_builds(build_dir)


def rollback(build_dir: Path) -> tuple[Path, Path]:
    """Swap ``current`` and ``previous``; returns (now current, now previous)."""
    current, previous = build_dir / "current", build_dir / "previous"
    if not previous.exists():
        raise StoreUnavailableError(f"no previous build to roll back to in {build_dir}")
    read_manifest(previous.resolve())  # refuse to publish an incomplete build
    old_current = current.resolve() if current.exists() else None
    target = previous.resolve()
    switch_link(current, target)
    if old_current is not None:
        switch_link(previous, old_current)
    return target, old_current or target


def prune_builds(build_dir: Path, keep: int = KEEP_BUILDS) -> list[Path]:
    """Remove all but the newest ``keep`` complete builds, never current or previous,
    and every incomplete one: run under the build lock, so an incomplete build is one
    whose process was killed before it could clean up."""
    root = builds_root(build_dir)
    if not root.is_dir():
        return []
    protected = {
        link.resolve() for link in (build_dir / "current", build_dir / "previous") if link.exists()
    }
    removed = []
    for abandoned in sorted(p for p in root.iterdir() if p.is_dir()):
        if not (abandoned / MANIFEST_NAME).is_file() and abandoned.resolve() not in protected:
            shutil.rmtree(abandoned, ignore_errors=True)
            removed.append(abandoned)
    builds = sorted(
        (p for p in root.iterdir() if p.is_dir() and (p / MANIFEST_NAME).is_file()),
        key=lambda p: p.name,
        reverse=True,
    )
    for stale in builds[keep:]:
        if stale.resolve() not in protected:
            shutil.rmtree(stale, ignore_errors=True)
            removed.append(stale)
    return removed


def write_manifest(build_root: Path, manifest: dict[str, Any]) -> None:
    target = build_root / MANIFEST_NAME
    temporary = target.with_suffix(".tmp")
    temporary.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    temporary.replace(target)
