"""Builds as the sources change: ``engagements watch``.

A build started afresh lists and stats every source file and imports the pipeline
before it does anything: at 100,000 engagements 2.5 s of a rebuild that takes 6.7 s.
Here one process stays. It lists the files once; after that the file system says
which changed (watchfiles: inotify on Linux, FSEvents on macOS, polling where there
is neither), and only those are hashed again, in the listing it keeps. Each batch of
changes then runs :func:`defence_engagements.pipeline.build` with that listing, under
the build lock, as ``engagements build`` would.

A path the watcher reports that is not a ``.ttl`` file of a source directory — a
directory made or moved, something gone that held listed files — has everything
listed again, so no change is missed for want of an event about each file.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import watchfiles

from defence_engagements.errors import ConfigurationError, EngagementsError
from defence_engagements.pipeline import (
    BuildResult,
    Progress,
    build,
    source_files,
    start_rebuild_workers,
)
from defence_engagements.pipeline.incremental import HashCache
from defence_engagements.pipeline.parse import display_name
from defence_engagements.settings import Settings
from defence_engagements.store import cache_root

# How long the watcher waits for more changes after one before a build starts: an
# editor's save, a `git checkout`, a script adding files come as one batch.
DEBOUNCE_MS = 50
# How often an idle watch wakes (and how long starting it may wait): the watch is in
# place before the first listing is made, and it hands back no batch until asked.
IDLE_WAKE_MS = 100


class SourceListing:
    """The source files by role, with their hashes, kept up to date by changed paths."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hashes = HashCache(cache_root(settings.build_path))
        self.roles = _roles(settings)
        self._list()

    def _list(self) -> None:
        self.files = source_files(self.settings, self.hashes)
        # Each role's sort keys, kept in step with its listing.
        self._keys = {
            role: [_order(s.location) for s in listed] for role, listed in self.files.items()
        }

    def take(self, paths: Iterable[str]) -> None:
        """The files at ``paths`` changed, came or went: hash those again (or, for
        anything but a source file, list everything again)."""
        changed: list[tuple[str, str]] = []
        for path in paths:
            role = self._role_of(path)
            if role is None:
                continue
            if path.endswith(".ttl") and not os.path.isdir(path):
                changed.append((role, path))
            elif os.path.isdir(path) or self._holds_listed(path):
                self._list()
                return
        for role, path in changed:
            self._update(role, path, self._keys[role])

    def save(self) -> None:
        self.hashes.save({s.location for role in self.files.values() for s in role})

    def _role_of(self, path: str) -> str | None:
        for role, directory, recursive in self.roles:
            inside = directory.rstrip("/") + "/"
            if path.startswith(inside):
                rest = path[len(inside) :]
                return role if recursive or "/" not in rest else None
        return None

    def _holds_listed(self, path: str) -> bool:
        inside = path.rstrip("/") + "/"
        return any(s.location.startswith(inside) for role in self.files.values() for s in role)

    def _update(self, role: str, path: str, keys: list[str]) -> None:
        """One file of ``role`` hashed again, added or gone; ``keys``: the role's
        listing's sort keys, kept in step."""
        listed = self.files[role]
        key = _order(path)
        at = bisect.bisect_left(keys, key)
        present = at < len(listed) and listed[at].location == path
        if os.path.isfile(path) or os.path.islink(path):
            name = display_name(Path(path), self.settings.repo_root)
            source = self.hashes.source(path, name, role)
            if present:
                listed[at] = source
            else:
                listed.insert(at, source)
                keys.insert(at, key)
        elif present:
            del listed[at]
            del keys[at]


def _roles(settings: Settings) -> tuple[tuple[str, str, bool], ...]:
    """Each role's directory, and whether files in its subdirectories are sources."""
    return (
        ("ontology", os.fspath(settings.ontology_path), False),
        ("data", os.fspath(settings.data_path), True),
        ("shapes", os.fspath(settings.shapes_path), False),
    )


def _order(path: str) -> str:
    # As :func:`.parse.list_sources` sorts: each separator the lowest character.
    return path.replace("/", "\0")


def watch_sources(
    settings: Settings,
    *,
    strict: bool = False,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> Iterator[BuildResult | EngagementsError]:
    """Build now, then after each batch of changes, until ``stop`` is set or Ctrl-C;
    yields each build's result, or the :class:`EngagementsError` it raised (a build
    that fails leaves the published one as it was, and the watch goes on)."""
    directories = [directory for _, directory, _ in _roles(settings)]
    missing = [directory for directory in directories if not os.path.isdir(directory)]
    if missing:
        raise ConfigurationError(f"cannot watch {', '.join(missing)}: no such directory")
    batches = watchfiles.watch(
        *directories,
        debounce=DEBOUNCE_MS,
        step=10,
        stop_event=stop,
        raise_interrupt=False,
        rust_timeout=IDLE_WAKE_MS,
        yield_on_timeout=True,
    )
    # The watch is set up by the generator's first step: taken before the listing is
    # made, so a change made while the files are listed or built comes as a batch.
    next(batches, None)
    listing = SourceListing(settings)

    def attempt() -> BuildResult | EngagementsError:
        try:
            files = {role: list(listed) for role, listed in listing.files.items()}
            return build(settings, strict=strict, progress=progress, files=files)
        except EngagementsError as error:
            return error

    def after(result: BuildResult | EngagementsError) -> None:
        # Not on the way to the next build: the listing's hashes, the rebuild's workers.
        listing.save()
        if isinstance(result, BuildResult):
            start_rebuild_workers(settings, result)

    try:
        result = attempt()
        yield result
        after(result)
        for batch in batches:
            if not batch:  # the idle wake
                continue
            try:
                listing.take(path for _, path in batch)
            except EngagementsError as error:  # a file that cannot be read (yet)
                yield error
                continue
            result = attempt()
            yield result
            after(result)
    finally:
        batches.close()
        listing.save()
