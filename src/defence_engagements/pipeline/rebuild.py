"""A rebuild's inferred graph, revised from the last build's instead of computed anew.

When only a few data files changed since the published build, the working store
(which holds the new assertions for validation) gets the last build's inferred graph
and the closure of the ontology, and :func:`.revise.revise_closure` turns it into the
new closure from the change: the triples of the changed files' old parses (the parse
cache keeps them, by content hash) against their new ones. The new inferred graph
is the last one's sorted file with the lines the revision took out left out and the
lines it put in merged in: no sort, no scan of the whole closure.

Anything the revision does not cover (the ontology changed, too many files changed,
the last build's inferred graph or parses are gone, the schema-level rules would
fire) leaves the build to close everything, as a first build does.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from defence_engagements.namespaces import GRAPH_DATA, GRAPH_ONTOLOGY
from defence_engagements.pipeline import reason, revise, rules
from defence_engagements.pipeline.dumps import line_blocks
from defence_engagements.pipeline.incremental import ParseCache
from defence_engagements.pipeline.parse import OWN_NTRIPLES, ParsedFile, SourceFile
from defence_engagements.store import open_store_read_only

# Beyond this share of the data files (at least ten, at most five hundred files)
# closing everything costs about what revising does.
MAX_CHANGED_SHARE = 0.05
MAX_CHANGED_FILES = 500
_BLANK = b"_:"


@dataclass
class Plan:
    """What a revision needs from the last build."""

    inferred: Path  # its inferred graph, sorted N-Triples
    store: Path  # its published store (what it asserted: the ontology and data graphs)
    before: list[ParsedFile]  # the changed and removed files as the last build parsed them
    after: list[ParsedFile]  # the changed and added files as parsed now


def plan(
    previous: dict[str, object],
    repo_root: Path,
    previous_store: Path,
    previous_inferred: Path | None,
    files: dict[str, list[SourceFile]],
    parsed_data: list[ParsedFile],
    cache: ParseCache,
) -> Plan | None:
    """A plan when the inputs differ from the last build's only in a few data files."""
    if previous_inferred is None or not previous_store.is_dir():
        return None
    inputs_before = previous.get("inputs")
    if not isinstance(inputs_before, dict):
        return None
    for role in ("ontology", "shapes"):
        for source in files[role]:
            if inputs_before.get(source.name) != source.sha256:
                return None
    now = {s.name: s.sha256 for role in files.values() for s in role}
    fixed = {s.name for role in ("ontology", "shapes") for s in files[role]}
    if any(name not in now for name in inputs_before if name in fixed):
        return None  # an ontology or shapes file was removed
    changed = {
        name for name in set(inputs_before) | set(now) if inputs_before.get(name) != now.get(name)
    }
    limit = min(MAX_CHANGED_FILES, max(10, int(MAX_CHANGED_SHARE * len(files["data"]))))
    if len(changed) > limit:
        return None
    before: list[ParsedFile] = []
    for name in sorted(changed):
        sha = inputs_before.get(name)
        if sha is None:
            continue
        old = cache.get(SourceFile(str(repo_root / name), name, "data", str(sha)))
        if old is None:
            return None  # its parse is no longer kept
        before.append(old)
    after = [p for p in parsed_data if p.source.name in changed]
    return Plan(previous_inferred, previous_store, before, after)


def revised_inferred(
    store: ox.Store, ontology: list[ParsedFile], chosen: Plan, target: Path
) -> Path:
    """Revise the working store (holding exactly the new assertions) into the new
    closure and write the new inferred graph, sorted, to ``target``.

    Raises :class:`.revise.Unsupported` when the change needs a full closure; the
    working store is then no longer the assertions alone."""
    old = _triples(chosen.before)
    new = _triples(chosen.after)
    removed = {t for t in old - new if _quad(t) not in store}  # not asserted elsewhere
    added = new - old
    previous = open_store_read_only(chosen.store)
    asserted_graphs = (ox.NamedNode(GRAPH_DATA), ox.NamedNode(GRAPH_ONTOLOGY))
    removed_quads = {_quad(t) for t in removed}
    added_quads = {_quad(t) for t in added}

    def is_asserted(quad: ox.Quad) -> bool:
        if quad in added_quads:
            return True
        if quad in removed_quads:
            return False
        return any(
            ox.Quad(quad.subject, quad.predicate, quad.object, graph) in previous
            for graph in asserted_graphs
        )

    _load_ntriples(store, chosen.inferred)
    # The closure's schema-level triples (not published, so not in the inferred file).
    schema_closure, _ = rules.closure_of(t for parsed in ontology for t in parsed.triples)
    store.extend(_quad(t) for t in schema_closure)
    revision = revise.revise_closure(store, removed_quads, added_quads, is_asserted)
    touched = revision.removed | revision.added | removed_quads | added_quads
    keep = {
        q.triple
        for q in touched
        if q in store and not is_asserted(q) and reason.is_meaningful(q.triple)
    }
    drop = {q.triple for q in touched} - keep
    _patched(chosen.inferred, _lines(drop), _lines(keep), target)
    return target


def _triples(files: Iterable[ParsedFile]) -> set[ox.Triple]:
    return {t for parsed in files for t in parsed.triples}


def _quad(triple: ox.Triple) -> ox.Quad:
    return ox.Quad(triple.subject, triple.predicate, triple.object, ox.DefaultGraph())


def _lines(triples: Iterable[ox.Triple]) -> list[bytes]:
    body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
    return sorted(set(body.splitlines(keepends=True)))


def _load_ntriples(store: ox.Store, path: Path) -> None:
    """A sorted N-Triples file into the default graph, blank-node labels kept."""
    with path.open("rb") as handle:
        for block in line_blocks(handle, 32 << 20):
            if _BLANK in block:
                lines = block.splitlines(keepends=True)
                blank = b"".join(line for line in lines if _BLANK in line)
                store.extend(ox.parse(blank, **OWN_NTRIPLES))
                block = b"".join(line for line in lines if _BLANK not in line)
            store.load(block, **OWN_NTRIPLES)


def _patched(source: Path, drop: list[bytes], add: list[bytes], target: Path) -> None:
    """The sorted lines of ``source`` without ``drop``, with ``add``, each once."""
    dropped = set(drop)
    with source.open("rb") as old, target.open("wb") as out:
        kept: Iterator[bytes] = (line for line in old if line not in dropped)
        merged = heapq.merge(kept, add)
        out.writelines(line for line, _ in itertools.groupby(merged))
