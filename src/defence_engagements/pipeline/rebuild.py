"""A rebuild's store, inferred graph and data graph file, revised from the last build's.

When only a few data files changed since the published build, the new store starts
as a copy of the published one (a RocksDB checkpoint: hard links, milliseconds), and
takes the change: the changed files' old parses (the parse cache keeps them, by
content hash) against their new ones, statement by statement. Whether another file
still states a triple is counted, not looked up: the data graph holds each triple
once, and the asserted cache keeps beside the last data graph's file the lines
stated more than once (:class:`.incremental.AssertedCache`). Its inferred graph is
then revised by :func:`.revise.revise_closure`, in place; the new inferred and data
graphs' files are the last ones with the parts the change touches written anew and
the others hard-linked (:mod:`.graph_file`): no working store, no bulk load, no sort,
no scan of the whole closure, and megabytes written, not the graphs' gigabytes.
What the change can make valid or invalid is judged in the revised store (see
:mod:`.reach`).

Anything the revision does not cover (the ontology changed, too many files changed,
the last build's graphs or parses are gone from the caches, the schema-level rules
would fire, a shape the reach cannot follow) leaves the build to do everything, as a
first build does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from defence_engagements.namespaces import GRAPH_DATA, GRAPH_INFERRED, GRAPH_ONTOLOGY
from defence_engagements.pipeline import reason, revise, rules, statistics, void
from defence_engagements.pipeline.graph_file import GraphFile
from defence_engagements.pipeline.incremental import ParseCache
from defence_engagements.pipeline.parse import OWN_NTRIPLES, ParsedFile, SourceFile
from defence_engagements.pipeline.revise import in_graph

# Beyond this share of the data files (at least ten, at most five hundred files)
# closing everything costs about what revising does.
MAX_CHANGED_SHARE = 0.05
MAX_CHANGED_FILES = 500
REVISED_INFERRED = "inferred.nt"  # the new inferred graph's file, in the build's work dir
# Where the ontology's closure waits while a revision runs (then it is removed).
SCHEMA_CLOSURE = "urn:x-defence-engagements:build:schema-closure"


@dataclass
class LastBuild:
    """What a revision starts from: the published build's store, and from the caches
    its inferred and data graphs' files and the lines stated more than once."""

    store: Path
    inferred: GraphFile
    data: GraphFile
    duplicates: list[bytes]


@dataclass
class Plan:
    """What a revision needs from the last build."""

    last: LastBuild
    before: list[ParsedFile]  # the changed and removed files as the last build parsed them
    after: list[ParsedFile]  # the changed and added files as parsed now


def plan(
    previous: dict[str, object],
    last: LastBuild,
    repo_root: Path,
    data_directory: str,
    files: dict[str, list[SourceFile]],
    cache: ParseCache,
    parse: Callable[[list[SourceFile]], list[ParsedFile]],
) -> Plan | None:
    """A plan when the inputs differ from the last build's only in a few data files
    (their names start with ``data_directory``, as build.json gives them); ``parse``
    parses those of them there are now (the others need no parse here)."""
    if not last.store.is_dir():
        return None
    inputs_before = previous.get("inputs")
    if not isinstance(inputs_before, dict):
        return None
    for role in ("ontology", "shapes"):
        for source in files[role]:
            if inputs_before.get(source.name) != source.sha256:
                return None
    now = {s.name: s.sha256 for role in files.values() for s in role}
    changed = {name for name, _ in inputs_before.items() ^ now.items()}
    if not all(name.startswith(data_directory) for name in changed):
        return None  # an ontology or shapes file was removed
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
    after = parse([source for source in files["data"] if source.name in changed])
    return Plan(last, before, after)


@dataclass
class Change:
    """What the data graph loses and gains, as triples and as sorted lines."""

    removed: set[ox.Triple]
    added: set[ox.Triple]
    removed_lines: list[bytes]
    added_lines: list[bytes]
    duplicates: list[bytes]  # the new data graph's lines stated more than once
    subjects: set[ox.Term]  # what the changed files state something about, before or after


def change_in(store: ox.Store, chosen: Plan) -> Change:
    """The change the plan's files make to the data graph of ``store`` (the last build's):
    a triple goes when no statement of it is left, counted as the data graph (one
    statement) plus the last build's duplicate lines, less the changed files' old
    statements, plus their new ones."""
    before, after = _statements(chosen.before), _statements(chosen.after)
    lines = sorted(before.keys() | after.keys())
    triples = [in_graph(t) for t in ox.parse(b"".join(lines), **OWN_NTRIPLES)]
    if len(triples) != len(lines):
        raise revise.Unsupported("a changed file's cached parse is not one triple a line")
    extra = Counter(chosen.last.duplicates)
    data = ox.NamedNode(GRAPH_DATA)
    change = Change(set(), set(), [], [], [], {q.subject for q in triples})
    for line, quad in zip(lines, triples, strict=True):
        delta = after[line] - before[line]
        if not delta:
            continue
        was = extra[line] + 1 if in_graph(quad, data) in store else 0
        now = was + delta
        if now < 0:
            raise revise.Unsupported("the last build's statement counts do not match its files")
        extra[line] = max(now - 1, 0)
        if was and not now:
            change.removed.add(quad.triple)
            change.removed_lines.append(line)
        elif now and not was:
            change.added.add(quad.triple)
            change.added_lines.append(line)
    change.duplicates = sorted(extra.elements())
    return change


def _statements(files: Iterable[ParsedFile]) -> Counter[bytes]:
    return Counter(line for parsed in files for line in parsed.ntriples.splitlines(keepends=True))


def patch_data_file(chosen: Plan, change: Change, target: Path) -> GraphFile:
    """The new data graph's file: the last one's, patched by the change."""
    patched, _, _ = chosen.last.data.patch(change.removed_lines, change.added_lines, target)
    return patched


@dataclass
class GraphChange:
    """What left one graph and what joined it."""

    left: set[ox.Triple]
    joined: set[ox.Triple]


def revise_store(
    store: ox.Store, change: Change, ontology: list[ParsedFile], chosen: Plan, target: Path
) -> GraphChange:
    """Turn ``store``, a copy of the last build's published store, into this build's:
    its data graph takes the change, its inferred graph is revised by it (see
    :func:`.revise.revise_closure`), and the new inferred graph's file is written to
    ``target`` (the last one's file, patched). Returns what left and joined the
    inferred graph. Raises :class:`.revise.Unsupported` when the change needs a full
    closure; ``store`` is then half-changed: throw it away."""
    data, ontology_graph, inferred = (
        ox.NamedNode(iri) for iri in (GRAPH_DATA, GRAPH_ONTOLOGY, GRAPH_INFERRED)
    )
    removed = {in_graph(t) for t in change.removed}
    added = {in_graph(t) for t in change.added}
    for quad in removed:
        store.remove(in_graph(quad, data))
    store.extend(in_graph(quad, data) for quad in added)

    def is_asserted(quad: ox.Quad) -> bool:
        return in_graph(quad, data) in store or in_graph(quad, ontology_graph) in store

    # The closure's triples the inferred graph leaves out (the restriction: axioms of
    # the vocabularies, c rdfs:subClassOf owl:Thing…) follow from the ontology alone.
    schema = ox.NamedNode(SCHEMA_CLOSURE)
    published = revise.Closure(store, [ontology_graph, data, inferred], write=inferred)
    closed, _ = rules.closure_of(t for parsed in ontology for t in parsed.triples)
    store.extend(in_graph(t, schema) for t in closed if in_graph(t) not in published)
    closure = revise.Closure(store, [ontology_graph, data, inferred, schema], write=inferred)
    revision = revise.revise_closure(closure, removed, added, is_asserted)

    touched = revision.removed | revision.added | removed | added
    keep: set[ox.Triple] = set()
    for quad in touched:
        wanted = quad in closure and not is_asserted(quad) and reason.is_meaningful(quad.triple)
        if wanted:
            keep.add(quad.triple)
            store.add(in_graph(quad, inferred))
        else:
            store.remove(in_graph(quad, inferred))
    store.remove_graph(schema)
    dropped = {q.triple for q in touched} - keep
    _, left, joined = chosen.last.inferred.patch(_lines(dropped), _lines(keep), target)
    return GraphChange(_parsed(left), _parsed(joined))


def _serialized(triples: Iterable[ox.Triple]) -> bytes:
    return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""


def _lines(triples: Iterable[ox.Triple]) -> list[bytes]:
    return sorted(set(_serialized(triples).splitlines(keepends=True)))


def _parsed(lines: list[bytes]) -> set[ox.Triple]:
    return {q.triple for q in ox.parse(b"".join(lines), **OWN_NTRIPLES)}


class Revised:
    """The content graphs before and after a rebuild's change, as the revised store
    (after) and what left and joined each graph tell: what the VoID figures and the
    subjects' runs are moved by, without a pass over every graph."""

    def __init__(self, store: ox.Store, changes: dict[str, GraphChange]) -> None:
        self.store = store
        self.changes = changes
        self.candidates = set().union(*(c.left | c.joined for c in changes.values()))

    def _after(
        self, subject: ox.Term | None, predicate: ox.NamedNode | None, obj: ox.Term | None
    ) -> Iterator[tuple[str, ox.Triple]]:
        for iri in void.CONTENT_GRAPHS:
            for quad in self.store.quads_for_pattern(subject, predicate, obj, ox.NamedNode(iri)):
                yield iri, quad.triple

    def exists(
        self, subject: ox.Term | None, predicate: ox.NamedNode | None, obj: ox.Term | None
    ) -> bool:
        return next(self._after(subject, predicate, obj), None) is not None

    def existed(
        self, subject: ox.Term | None, predicate: ox.NamedNode | None, obj: ox.Term | None
    ) -> bool:
        for iri, triple in self._after(subject, predicate, obj):
            change = self.changes.get(iri)
            if change is None or triple not in change.joined:
                return True
        return any(
            (subject is None or t.subject == subject)
            and (predicate is None or t.predicate == predicate)
            and (obj is None or t.object == obj)
            for change in self.changes.values()
            for t in change.left
        )

    def figures(self, last: void.Figures, links: set[ox.Triple]) -> void.Figures:
        """The last build's figures moved by the change (:func:`.void.figures_of`
        counts the same in the graph files)."""
        triples = {}
        for t in self.candidates:
            moved = self.exists(t.subject, t.predicate, t.object) - self.existed(
                t.subject, t.predicate, t.object
            )
            if moved:
                triples[t] = moved
        subjects = {}
        for subject in {t.subject for t in self.candidates}:
            moved = self.exists(subject, None, None) - self.existed(subject, None, None)
            if moved:
                subjects[str(subject)] = moved
        objects = sum(
            self.exists(None, None, o) - self.existed(None, None, o)
            for o in {t.object for t in self.candidates}
        )
        return void.revised_figures(last, triples, subjects, objects, links)

    def runs(self, last: dict[str, statistics.Runs]) -> dict[str, statistics.Runs]:
        """The last build's runs of each content graph, moved by the change."""
        runs = {iri: counts.copy() for iri, counts in last.items()}
        for iri, change in self.changes.items():
            graph = ox.NamedNode(iri)
            counts = runs.setdefault(iri, statistics.Runs())
            touched = change.left | change.joined
            for subject in {t.subject for t in touched}:
                predicates = {t.predicate for t in touched if t.subject == subject}
                for predicate in (None, *predicates):
                    after = sum(
                        1 for _ in self.store.quads_for_pattern(subject, predicate, None, graph)
                    )
                    before = (
                        after
                        - _matching(change.joined, subject, predicate)
                        + _matching(change.left, subject, predicate)
                    )
                    counts.move(None if predicate is None else predicate.value, before, after)
        return runs


def _matching(triples: set[ox.Triple], subject: ox.Term, predicate: ox.NamedNode | None) -> int:
    return sum(
        1
        for t in triples
        if t.subject == subject and (predicate is None or t.predicate == predicate)
    )
