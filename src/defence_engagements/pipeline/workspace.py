"""The build's working store: every asserted triple in one in-memory pyoxigraph store.

Validation queries it and reasoning extends it in place, so the triples stay in Rust
from the parse to the dumps: at 100,000 engagements (4.7M asserted triples) holding
them as Python objects took about five times the memory of this store.

The store's default graph holds the ontology and the data, as the shapes and the
rules expect. Files are loaded as N-Triples bytes; a file with blank nodes goes
through the parser instead, because ``Store.load`` would give its blank nodes new
labels and the build keeps the stable ones the parse gave them.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyoxigraph as ox

from defence_engagements.pipeline.parse import OWN_NTRIPLES, ParsedFile

_BATCH_BYTES = 32 * 1024 * 1024  # one load per ~32 MB: few calls, bounded copies
_BLANK = b"_:"


def load_files(store: ox.Store, files: Iterable[ParsedFile]) -> None:
    """Add the triples of ``files`` to the default graph of ``store``."""
    batch: list[bytes] = []
    size = 0
    for parsed in files:
        body = parsed.ntriples
        if _BLANK in body:
            store.extend(ox.parse(body, **OWN_NTRIPLES))
            continue
        batch.append(body)
        size += len(body)
        if size >= _BATCH_BYTES:
            store.load(b"".join(batch), **OWN_NTRIPLES)
            batch, size = [], 0
    if batch:
        store.load(b"".join(batch), **OWN_NTRIPLES)


def remove_files(store: ox.Store, files: Iterable[ParsedFile]) -> None:
    """Remove the triples of ``files`` from the default graph of ``store``."""
    for parsed in files:
        for quad in ox.parse(parsed.ntriples, **OWN_NTRIPLES):
            store.remove(quad)


def workspace(files: Iterable[ParsedFile]) -> ox.Store:
    """A new in-memory store holding ``files`` in its default graph."""
    store = ox.Store()
    load_files(store, files)
    return store
