"""A small published build in the real layout, for tests that need a store, not the data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyoxigraph
import pytest

DATA_GRAPH = "https://w3id.org/defence-engagements/graph/data"


def publish_tiny_build(build_dir: Path, build_id: str, triples: int) -> Path:
    """Write builds/<build_id> with ``triples`` triples and switch ``current`` to it."""
    root = build_dir / "builds" / build_id
    root.mkdir(parents=True)
    store = pyoxigraph.Store(str(root / "store"))
    graph = pyoxigraph.NamedNode(DATA_GRAPH)
    store.extend(
        pyoxigraph.Quad(
            pyoxigraph.NamedNode(f"http://example.org/s{i}"),
            pyoxigraph.NamedNode("http://example.org/p"),
            pyoxigraph.Literal(f"value {i}"),
            graph,
        )
        for i in range(triples)
    )
    store.flush()
    del store
    manifest = {
        "version": build_id,
        "built_at": "2026-11-22T00:00:00Z",
        "graphs": {DATA_GRAPH: triples},
    }
    (root / "build.json").write_text(json.dumps(manifest), encoding="utf-8")
    link = build_dir / "current.new"
    link.symlink_to(Path("builds") / build_id)
    os.replace(link, build_dir / "current")
    return root


@pytest.fixture
def tiny_build(tmp_path: Path) -> Path:
    build_dir = tmp_path / "build"
    publish_tiny_build(build_dir, "tiny-1", 300)
    return build_dir
