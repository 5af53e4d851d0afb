"""A small published build in the real layout (store, dumps, build.json, current link),
for the in-process tests of the web layer: the ontology plus ``data/sample.ttl``."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pyoxigraph

from defence_engagements.namespaces import (
    GRAPH_DATA,
    GRAPH_METADATA,
    GRAPH_ONTOLOGY,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _load(store: pyoxigraph.Store, path: Path, graph: str) -> None:
    store.load(
        path=str(path), format=pyoxigraph.RdfFormat.TURTLE, to_graph=pyoxigraph.NamedNode(graph)
    )


def publish_sample_build(build_dir: Path, build_id: str = "sample-1") -> Path:
    root = build_dir / "builds" / build_id
    (root / "dumps").mkdir(parents=True)
    store = pyoxigraph.Store(str(root / "store"))
    for path in sorted((REPO / "ontology").glob("*.ttl")):
        _load(store, path, GRAPH_ONTOLOGY)
    _load(store, HERE / "data" / "sample.ttl", GRAPH_DATA)
    base = "https://w3id.org/defence-engagements/"
    void = f"""@prefix void: <http://rdfs.org/ns/void#> .
<{base}> a void:Dataset ; void:sparqlEndpoint <{base}sparql> ;
  void:dataDump <{base}dumps/engagements.nt.gz> ; void:triples 0 ."""
    store.load(
        void, format=pyoxigraph.RdfFormat.TURTLE, to_graph=pyoxigraph.NamedNode(GRAPH_METADATA)
    )
    store.flush()
    graphs = {
        g.value: sum(1 for _ in store.quads_for_pattern(None, None, None, g))
        for g in store.named_graphs()
    }
    dumps = root / "dumps"
    triples = [q.triple for q in store.quads_for_pattern(None, None, None, None)]
    (dumps / "engagements.nt.gz").write_bytes(
        gzip.compress(pyoxigraph.serialize(triples, format=pyoxigraph.RdfFormat.N_TRIPLES) or b"")
    )
    (dumps / "engagements.ttl").write_bytes(
        pyoxigraph.serialize(triples, format=pyoxigraph.RdfFormat.TURTLE) or b""
    )
    sums = "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sorted(dumps.iterdir())
    )
    (dumps / "SHA256SUMS").write_text(sums, encoding="utf-8")
    del store
    manifest = {"version": build_id, "built_at": "2026-11-22T00:00:00Z", "graphs": graphs}
    (root / "build.json").write_text(json.dumps(manifest), encoding="utf-8")
    link = build_dir / "current.new"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(Path("builds") / build_id)
    os.replace(link, build_dir / "current")
    return build_dir
