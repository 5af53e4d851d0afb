"""Revising an OWL 2 RL closure after a small change to what is asserted.

A rebuild after one edited engagement file should not close four million triples
again. :func:`revise_closure` takes the last build's closure and the change, and
gives the closure of the new assertions by delete/rederive (DRed; Gupta, Mumick and
Subrahmanian, SIGMOD 1993), with the rule families of :mod:`.rules`:

1. **Overdelete.** Everything the old closure derives, in one or more steps, from a
   removed triple goes, unless it is still asserted. Whatever stays then has a
   derivation that uses nothing removed, so it belongs to the new closure.
2. **Rederive.** Of what went, what the remaining triples still give in one step
   comes back.
3. **Add.** What came back and what was added are closed semi-naively: each round
   derives only what uses the previous round's triples.

Each step runs each family of rules on the triples it is about: the single-atom
rules by the engine's compiled pass over a small store of the schema and those
triples (every premise of a single-atom rule holds the subject of its conclusion, so
"what gives this triple" is among the triples touching its subject), property chains
and transitive properties by walking their steps from those triples. A change the
revision does not cover raises :class:`Unsupported`, and the caller closes
everything instead: a change to the schema, data the guarded rules (equality, keys,
restrictions, set operators) would read, or a datatype typed explicitly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox

from defence_engagements.pipeline.reason import VOCABULARY_NAMESPACES, XSD
from defence_engagements.pipeline.rules import (
    _META_CLASSES,
    _RDF_TYPE,
    _SCHEMA_PREDICATES,
    EQUALITY_RULES,
    JOIN_RULES,
    OWL,
    UNCOMPILED_DELTA_RULES,
    ReasoningReport,
    _compiled_pass,
    _is_schema,
    _Schema,
    _schema_quads,
    _timed,
    _transitive_properties,
    property_chains,
)

_GRAPH = ox.DefaultGraph()


class Unsupported(Exception):
    """The change needs the closure computed anew (the message says why)."""


class Closure:
    """A closure held in a store: in its default graph, or spread over ``graphs`` of an
    on-disk store (the published layout: ontology, data, inferred), read as their
    union, with what the revision adds and takes out kept in the ``write`` graph."""

    def __init__(
        self,
        store: ox.Store,
        graphs: Sequence[ox.NamedNode] = (),
        write: ox.NamedNode | None = None,
    ) -> None:
        if bool(graphs) != (write is not None):
            raise ValueError("named graphs to read need a graph to write, and only they do")
        self.store = store
        self.graphs = list(graphs)
        self.write = write

    def __contains__(self, quad: ox.Quad) -> bool:
        if not self.graphs:
            return quad in self.store
        return any(in_graph(quad, graph) in self.store for graph in self.graphs)

    def matching(
        self, subject: ox.Term | None, predicate: ox.Term | None, obj: ox.Term | None
    ) -> Iterator[ox.Quad]:
        """The closure's triples matching the pattern, as default-graph quads."""
        if not self.graphs:
            yield from self.store.quads_for_pattern(subject, predicate, obj, _GRAPH)
            return
        for graph in self.graphs:
            for quad in self.store.quads_for_pattern(subject, predicate, obj, graph):
                yield in_graph(quad)

    def add(self, quads: Iterable[ox.Quad]) -> None:
        if self.write is None:
            self.store.extend(quads)
        else:
            graph = self.write
            self.store.extend(in_graph(q, graph) for q in quads)

    def remove(self, quad: ox.Quad) -> None:
        self.store.remove(in_graph(quad, self.write) if self.write is not None else quad)

    def ask(self, query: str) -> bool:
        if not self.graphs:
            return bool(self.store.query(query))
        return bool(self.store.query(query, default_graph=self.graphs))

    def schema_store(self) -> ox.Store:
        """A store whose default graph holds (at least) the closure's schema triples."""
        if not self.graphs:
            return self.store
        schema = ox.Store()
        for predicate in _SCHEMA_PREDICATES:
            schema.extend(self.matching(None, ox.NamedNode(predicate), None))
        for meta in _META_CLASSES:
            schema.extend(self.matching(None, _RDF_TYPE, ox.NamedNode(meta)))
        return schema


@dataclass
class Revision:
    """What the revision took out of the closure and put into it (a triple both went
    and came back may be in both)."""

    removed: set[ox.Quad] = field(default_factory=set)
    added: set[ox.Quad] = field(default_factory=set)
    report: ReasoningReport = field(default_factory=ReasoningReport)


@dataclass(frozen=True)
class _Rules:
    """The schema-specific rules the revision runs, read from the store once."""

    schema: frozenset[ox.Quad]
    basis: _Schema
    chains: dict[ox.NamedNode, list[list[ox.NamedNode]]]  # target → its chains
    steps: dict[ox.Term, list[tuple[ox.NamedNode, list[ox.NamedNode], int]]]  # step → uses
    transitive: frozenset[ox.NamedNode]


def revise_closure(
    closure: Closure | ox.Store,
    removed: Iterable[ox.Quad],
    added: Iterable[ox.Quad],
    is_asserted: Callable[[ox.Quad], bool],
) -> Revision:
    """Turn ``closure`` (a store: its default graph) into the closure of the new
    assertions.

    On entry it holds the old closure with the ``removed`` assertions taken out and the
    ``added`` ones put in; ``is_asserted`` tells whether a triple is asserted after
    the change. Raises :class:`Unsupported` when the change needs a full closure:
    before anything is touched when the change itself says so (the schema, a guarded
    rule), else half-way (what it derives is schema): throw the closure away then.
    """
    started = time.perf_counter()
    closure = closure if isinstance(closure, Closure) else Closure(closure)
    removed = {in_graph(q) for q in removed}
    added = {in_graph(q) for q in added}
    rules = _read_rules(closure, removed | added)
    revision = Revision()
    report = revision.report

    # 1. Overdelete, over the old closure (the removed assertions put back meanwhile).
    closure.add(removed)
    gone: set[ox.Quad] = set()
    frontier = set(removed)
    while frontier:
        report.rounds += 1
        consequences = _consequences(closure, frontier, rules, report)
        frontier = {
            q
            for q in consequences
            if q not in gone
            and q not in removed
            and not _fixed(q)
            and not is_asserted(q)
            and q in closure
        }
        gone |= frontier
    gone |= removed
    for quad in gone:
        closure.remove(quad)
    revision.removed = gone

    # 2. Rederive: what the remaining triples still give in one step.
    back = _rederived(closure, gone, rules, report)
    closure.add(back)

    # 3. Add: close what came back and what was added, round by round.
    frontier = back | added
    while frontier:
        report.rounds += 1
        fresh = {q for q in _consequences(closure, frontier, rules, report) if q not in closure}
        if any(_fixed(q) for q in fresh):
            raise Unsupported("the change derives schema triples")
        closure.add(fresh)
        revision.added |= fresh
        frontier = fresh
    revision.added |= back
    report.seconds = time.perf_counter() - started
    return revision


def in_graph(
    triple: ox.Quad | ox.Triple, graph: ox.NamedNode | ox.DefaultGraph = _GRAPH
) -> ox.Quad:
    """The triple as a quad of ``graph`` (default: the default graph)."""
    return ox.Quad(triple.subject, triple.predicate, triple.object, graph)


def _fixed(quad: ox.Quad) -> bool:
    """Schema and vocabulary triples: the schema does not change in a revision."""
    subject = quad.subject
    return _is_schema(quad) or (
        isinstance(subject, ox.NamedNode) and subject.value.startswith(VOCABULARY_NAMESPACES)
    )


def _read_rules(closure: Closure, changed: set[ox.Quad]) -> _Rules:
    for quad in changed:
        if _fixed(quad):
            raise Unsupported(f"the change touches the schema: {quad}")
        if quad.predicate == _RDF_TYPE and getattr(quad.object, "value", "").startswith(XSD):
            raise Unsupported(f"a datatype typed explicitly: {quad}")
    store = closure.schema_store()
    for rule in (*JOIN_RULES, *UNCOMPILED_DELTA_RULES):
        if rule.guard and store.query(rule.guard):
            raise Unsupported(f"the schema calls for {rule.name}")
    if closure.ask(EQUALITY_RULES[0].guard):
        raise Unsupported("the data state owl:sameAs (the equality rules)")
    if next(iter(store.quads_for_pattern(None, ox.NamedNode(OWL + "hasKey"), None, _GRAPH)), None):
        raise Unsupported("the schema has keys (prp-key)")
    chains: dict[ox.NamedNode, list[list[ox.NamedNode]]] = {}
    steps: dict[ox.Term, list[tuple[ox.NamedNode, list[ox.NamedNode], int]]] = {}
    for target, chain in property_chains(store):
        if not all(isinstance(p, ox.NamedNode) for p in chain):
            raise Unsupported("a property chain with a step that is not an IRI")
        chains.setdefault(target, []).append(chain)  # type: ignore[arg-type]
        for position, step in enumerate(chain):
            steps.setdefault(step, []).append((target, chain, position))  # type: ignore[arg-type]
    return _Rules(
        schema=frozenset(_schema_quads(store)),
        basis=_Schema(store),
        chains=chains,
        steps=steps,
        transitive=frozenset(_transitive_properties(store)),
    )


def _consequences(
    closure: Closure, triples: set[ox.Quad], rules: _Rules, report: ReasoningReport
) -> set[ox.Quad]:
    """Everything the rules derive with at least one premise among ``triples`` (all of
    them in ``closure``), the rest from ``closure``: the single-atom rules' consequences
    in any number of steps, chains and transitivity in one."""
    derived = _single_atom_closure(triples, rules, report) - triples
    begun = time.perf_counter()
    for quad in triples:
        predicate = quad.predicate
        for target, chain, position in rules.steps.get(predicate, ()):
            derived |= _chain_heads(closure, target, chain, position, quad)
        if predicate in rules.transitive:
            derived |= _transitive_heads(closure, quad)
    _timed(report, "revise-joins", begun)
    return {q for q in derived if not isinstance(q.subject, ox.Literal)}


def _single_atom_closure(
    triples: Iterable[ox.Quad], rules: _Rules, report: ReasoningReport
) -> set[ox.Quad]:
    """The triples and all the single-atom rules derive from them (with the schema)."""
    small = ox.Store()
    small.extend(rules.schema)
    small.extend(triples)
    if not _compiled_pass(small, rules.basis, report, "revise"):
        raise Unsupported("the schema needs a form the compiled pass does not cover")
    return {q for q in small.quads_for_pattern(None, None, None, _GRAPH) if q not in rules.schema}


def _chain_heads(
    closure: Closure, target: ox.NamedNode, chain: list[ox.NamedNode], position: int, quad: ox.Quad
) -> set[ox.Quad]:
    starts = _walk(closure, [quad.subject], reversed(chain[:position]), backwards=True)
    ends = _walk(closure, [quad.object], chain[position + 1 :], backwards=False)
    return {ox.Quad(x, target, z, _GRAPH) for x in starts for z in ends}


def _walk(
    closure: Closure, nodes: Iterable[ox.Term], steps: Iterable[ox.NamedNode], *, backwards: bool
) -> set[ox.Term]:
    """Where the steps lead from ``nodes`` (backwards: where they come from)."""
    reached = set(nodes)
    for step in steps:
        if backwards:
            reached = {q.subject for n in reached for q in closure.matching(None, step, n)}
        else:
            reached = {
                q.object
                for n in reached
                if not isinstance(n, ox.Literal)
                for q in closure.matching(n, step, None)
            }
    return reached


def _transitive_heads(closure: Closure, quad: ox.Quad) -> set[ox.Quad]:
    """prp-trp with ``quad`` as one of its two premises, the closure's relation being
    transitively closed but for the triples of this round (later rounds join those)."""
    prop = quad.predicate
    before = [
        quad.subject,
        *(q.subject for q in closure.matching(None, prop, quad.subject)),
    ]
    after = [quad.object]
    if not isinstance(quad.object, ox.Literal):
        after += [q.object for q in closure.matching(quad.object, prop, None)]
    return {ox.Quad(x, prop, z, _GRAPH) for x in before for z in after} - {quad}


def _rederived(
    closure: Closure, gone: set[ox.Quad], rules: _Rules, report: ReasoningReport
) -> set[ox.Quad]:
    """The triples of ``gone`` that the rules derive in one step from ``closure``."""
    begun = time.perf_counter()
    back: set[ox.Quad] = set()
    # Single-atom rules: the premise holds the conclusion's subject (as its subject or
    # its object), so the triples touching those subjects hold every premise.
    subjects = {q.subject for q in gone}
    touching: set[ox.Quad] = set()
    for node in subjects:
        touching.update(closure.matching(node, None, None))
        touching.update(closure.matching(None, None, node))
    back |= _single_atom_closure(touching, rules, report) & gone
    for quad in gone - back:
        prop = quad.predicate
        if prop in rules.transitive and not isinstance(quad.subject, ox.Literal):
            middles = {q.object for q in closure.matching(quad.subject, prop, None)}
            if any(
                not isinstance(m, ox.Literal) and ox.Quad(m, prop, quad.object, _GRAPH) in closure
                for m in middles
            ):
                back.add(quad)
                continue
        for chain in rules.chains.get(prop, ()):  # type: ignore[call-overload]
            if quad.object in _walk(closure, [quad.subject], chain, backwards=False):
                back.add(quad)
                break
    _timed(report, "revise-rederive", begun)
    return back
