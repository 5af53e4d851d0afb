"""Small published builds in the real layout (store, dumps, build.json, current link),
for servers that need other data than the real build (the W3C protocol manifest)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pyoxigraph

_FORMATS = {".nt": pyoxigraph.RdfFormat.N_TRIPLES, ".ttl": pyoxigraph.RdfFormat.TURTLE}


def publish_graphs_build(
    build_dir: Path, graphs: dict[str, Sequence[Path]], build_id: str = "b1"
) -> Path:
    """Load the files into their named graphs and publish the build as ``current``."""
    root = build_dir / "builds" / build_id
    (root / "dumps").mkdir(parents=True)
    store = pyoxigraph.Store(str(root / "store"))
    for graph, paths in graphs.items():
        for path in paths:
            store.load(
                path=str(path), format=_FORMATS[path.suffix], to_graph=pyoxigraph.NamedNode(graph)
            )
    store.flush()
    counts = {
        g.value: sum(1 for _ in store.quads_for_pattern(None, None, None, g))
        for g in store.named_graphs()
    }
    del store
    manifest = {"version": build_id, "built_at": "2026-11-22T00:00:00Z", "graphs": counts}
    (root / "build.json").write_text(json.dumps(manifest), encoding="utf-8")
    link = build_dir / "current.new"
    link.symlink_to(Path("builds") / build_id)
    os.replace(link, build_dir / "current")
    return build_dir
