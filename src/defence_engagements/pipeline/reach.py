"""Which focus nodes a change to the data can give other validation results.

A rebuild (see :mod:`.rebuild`) judges again only the focus nodes whose results may
differ, in the revised store, and keeps the last build's findings for the others.
What a focus node's results read, from the shapes:

- its own triples (every path here starts at it; its types make it a target);
- the types of its values, where a property shape says ``sh:class``: a changed type
  reaches back to the nodes that have the typed node as a value through that path;
- the triples of its values, where a shape is applied to them (``sh:node``, ``sh:or``
  …): a change of such a value's triple reaches back the same way;
- the objects of ``sh:targetObjectsOf``: a changed triple of that predicate makes its
  object a focus node (or no longer one);
- what a SPARQL constraint's patterns match. A changed triple that matches one of
  them is read by the focus nodes bound by the constraint's required patterns (its
  group without OPTIONAL, UNION, MINUS and (NOT) EXISTS parts) with the pattern bound
  to that triple: asked of the store before the change and after it, so rows that
  appear and rows that go are both found. Dropping the filters and other parts only
  widens the answer.

Anything else (longer paths, shapes on the values of values, patterns that do not
reach ``$this``, blank nodes in a change) raises :class:`.shacl.Unsupported`, and
the rebuild validates everything, as a first build does.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyoxigraph as ox
import rdflib
from rdflib.paths import AlternativePath

from defence_engagements.pipeline.reason import from_rdflib
from defence_engagements.pipeline.shacl import NESTING, SH, CompiledShapes, Shape, Unsupported

RDF_TYPE = ox.NamedNode(str(rdflib.RDF.type))
_ANALYSIS = "1"  # bump when what _analysed makes of a query changes

Slot = ox.NamedNode | ox.Literal | rdflib.Variable  # a pattern's subject or object
Predicates = tuple[ox.NamedNode, ...] | rdflib.Variable  # a predicate, a choice of them


@dataclass(frozen=True)
class _Pattern:
    subject: Slot
    predicate: Predicates
    object: Slot

    def bind(self, triple: ox.Triple) -> dict[str, ox.Term] | None:
        """The pattern's variables as ``triple`` binds them, or None if it does not match."""
        bound: dict[str, ox.Term] = {}
        for slot, term in (
            (self.subject, triple.subject),
            (self.predicate, triple.predicate),
            (self.object, triple.object),
        ):
            if isinstance(slot, rdflib.Variable):
                if bound.setdefault(str(slot), term) != term:
                    return None
            elif isinstance(slot, tuple):
                if term not in slot:
                    return None
            elif slot != term:
                return None
        return bound

    def unbound(self, bound: dict[str, ox.Term]) -> tuple[bool, bool, bool]:
        """How little the pattern is bound (to sort on): its subject, an IRI object,
        any object (a literal such as ``true`` matches many)."""

        def term(slot: Slot) -> ox.Term | None:
            return bound.get(str(slot)) if isinstance(slot, rdflib.Variable) else slot

        subject, obj = term(self.subject), term(self.object)
        return subject is None, not isinstance(obj, ox.NamedNode), obj is None

    def text(self, bound: dict[str, ox.Term]) -> str:
        def slot(value: Slot | Predicates) -> str:
            if isinstance(value, rdflib.Variable):
                term = bound.get(str(value))
                return f"?{value}" if term is None else str(term)
            if isinstance(value, tuple):
                return "|".join(str(p) for p in value)
            return str(value)

        return f"{slot(self.subject)} {slot(self.predicate)} {slot(self.object)} ."


@dataclass(frozen=True)
class _Constraint:
    required: tuple[_Pattern, ...]  # what every row of a focus node matches
    read: tuple[_Pattern, ...]  # every pattern, the required ones included

    def to_json(self) -> dict[str, list[list[object]]]:
        def slot(value: Slot | Predicates) -> object:
            if isinstance(value, rdflib.Variable):
                return {"var": str(value)}
            if isinstance(value, tuple):
                return [str(p) for p in value]
            return str(value)  # N-Triples

        return {
            name: [[slot(p.subject), slot(p.predicate), slot(p.object)] for p in patterns]
            for name, patterns in (("required", self.required), ("read", self.read))
        }

    @staticmethod
    def from_json(data: dict[str, list[list[object]]]) -> _Constraint:
        def slot(value: object) -> Slot | Predicates:
            if isinstance(value, dict):
                return rdflib.Variable(value["var"])
            if isinstance(value, list):
                return tuple(_term(p) for p in value)  # type: ignore[misc]
            return _term(str(value))

        def patterns(name: str) -> tuple[_Pattern, ...]:
            return tuple(_Pattern(*map(slot, p)) for p in data[name])  # type: ignore[arg-type]

        return _Constraint(patterns("required"), patterns("read"))


def _term(text: str) -> ox.NamedNode | ox.Literal:
    [quad] = ox.parse(f"<urn:x:s> <urn:x:p> {text} .", format=ox.RdfFormat.N_TRIPLES)
    term = quad.object
    assert isinstance(term, ox.NamedNode | ox.Literal)
    return term


class Reach:
    """The shapes' reach, read once; :meth:`focus_nodes` asks it of a store."""

    def __init__(self, shapes: CompiledShapes, analyses: Path | None = None) -> None:
        """``analyses``: where the SPARQL constraints' patterns are kept once analysed
        (by the text of the query; rdflib's parser takes 0.3–0.4 s over ours)."""
        self.analyses = analyses
        self.class_checked: set[ox.NamedNode] = set()  # paths whose values' types are read
        self.value_shaped: set[ox.NamedNode] = set()  # paths whose values' triples are read
        self.object_targets: set[ox.NamedNode] = set()
        self.constraints: list[_Constraint] = []
        seen: set[rdflib.term.Node] = set()
        for root in shapes.roots:
            self.object_targets.update(_target_objects(shapes.graph, root.node))
            self._at_focus(root, seen)

    def _at_focus(self, shape: Shape, seen: set[rdflib.term.Node]) -> None:
        """A shape whose focus is the focus node itself (a root, or nested on it)."""
        if shape.node in seen:
            return
        seen.add(shape.node)
        for prop in [shape] if shape.path is not None else shape.properties:
            predicates = _plain(prop)
            for component, parameter in prop.constraints:
                if component == "class":
                    self.class_checked.update(predicates)
                elif component in NESTING:
                    self.value_shaped.update(predicates)
                    for nested in _shapes_in(parameter):
                        _at_value(nested, set())
        if shape.path is None:
            for component, parameter in shape.constraints:
                if component in NESTING:
                    for nested in _shapes_in(parameter):
                        self._at_focus(nested, seen)
        for constraint in shape.sparql:
            self.constraints.append(self._analysed(constraint.prefixes, constraint.select))

    def _analysed(self, prefixes: str, select: str) -> _Constraint:
        if self.analyses is None:
            return _analysed(prefixes, select)
        key = hashlib.sha256(f"{_ANALYSIS}\n{prefixes}\n{select}".encode()).hexdigest()
        kept = self.analyses / f"{key}.json"
        try:
            return _Constraint.from_json(orjson.loads(kept.read_bytes()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass  # none yet, or unreadable: analysed again
        made = _analysed(prefixes, select)
        self.analyses.mkdir(parents=True, exist_ok=True)
        temporary = kept.with_name(f".{kept.name}.{os.getpid()}.tmp")
        temporary.write_bytes(orjson.dumps(made.to_json()))
        temporary.replace(kept)
        return made

    def focus_nodes(
        self, store: ox.Store, graphs: list[ox.NamedNode], changed: Iterable[ox.Triple]
    ) -> set[ox.Term]:
        """The focus nodes whose results ``changed`` (added or removed triples) may
        alter, as far as ``store`` (its union of ``graphs``) shows: ask it before the
        change and after it."""
        found: set[ox.Term] = set()
        changed = list(changed)
        for triple in changed:
            if isinstance(triple.subject, ox.BlankNode) or isinstance(triple.object, ox.BlankNode):
                raise Unsupported("a blank node in the change")
            found.add(triple.subject)
            through = set(self.value_shaped)
            if triple.predicate == RDF_TYPE:
                through |= self.class_checked
            for predicate in through:
                found.update(_subjects(store, graphs, predicate, triple.subject))
            if triple.predicate in self.object_targets:
                found.add(triple.object)
        for constraint in self.constraints:
            found.update(_sparql_reach(store, graphs, constraint, changed))
        return {node for node in found if not isinstance(node, ox.Literal)}


def _at_value(shape: Shape, seen: set[rdflib.term.Node]) -> None:
    """A shape applied to a focus node's values: it may read their own values only."""
    if shape.node in seen:
        return
    seen.add(shape.node)
    if shape.sparql:
        raise Unsupported(f"{shape.node}: a SPARQL constraint on a value")
    for prop in [shape] if shape.path is not None else shape.properties:
        _plain(prop)
        if any(c == "class" or c in NESTING for c, _ in prop.constraints):
            raise Unsupported(f"{prop.node}: a shape on the values of a value")
    if shape.path is None:
        for component, parameter in shape.constraints:
            if component in NESTING:
                for nested in _shapes_in(parameter):
                    _at_value(nested, seen)


def _plain(shape: Shape) -> list[ox.NamedNode]:
    if shape.path is not None and not shape.predicates:
        raise Unsupported(f"{shape.node}: a path longer than one step")
    return [ox.NamedNode(p) for p in shape.predicates]


def _shapes_in(parameter: object) -> list[Shape]:
    return list(parameter) if isinstance(parameter, list) else [parameter]  # type: ignore[list-item]


def _target_objects(graph: rdflib.Graph, node: rdflib.term.Node) -> set[ox.NamedNode]:
    return {ox.NamedNode(str(p)) for p in graph.objects(node, SH.targetObjectsOf)}


def _subjects(
    store: ox.Store, graphs: list[ox.NamedNode], predicate: ox.NamedNode, value: ox.Term
) -> Iterator[ox.Term]:
    for graph in graphs:
        for quad in store.quads_for_pattern(None, predicate, value, graph):
            yield quad.subject


def _sparql_reach(
    store: ox.Store, graphs: list[ox.NamedNode], constraint: _Constraint, changed: list[ox.Triple]
) -> set[ox.Term]:
    found: set[ox.Term] = set()
    asked: set[str] = set()
    for pattern in constraint.read:
        for triple in changed:
            bound = pattern.bind(triple)
            if bound is None:
                continue
            if "this" in bound:
                found.add(bound["this"])
                continue
            # The store joins in the order written: the patterns the change binds first.
            ordered = sorted(constraint.required, key=lambda p: p.unbound(bound))
            body = " ".join(p.text(bound) for p in ordered)
            if "?this" not in body:
                raise Unsupported("a SPARQL constraint's pattern that does not reach $this")
            query = f"SELECT DISTINCT ?this WHERE {{ {body} }}"
            if query not in asked:
                asked.add(query)
                found.update(row[0] for row in store.query(query, default_graph=graphs))  # type: ignore[index, union-attr]
    return found


def _analysed(prefixes: str, select: str) -> _Constraint:
    """The patterns of a SPARQL constraint (its ``{TARGET}`` slot left empty)."""
    from rdflib.plugins.sparql import prepareQuery  # 0.1 s to import, when needed

    algebra = prepareQuery(prefixes + select.replace("{TARGET}", "")).algebra
    required: list[_Pattern] = []
    read: list[_Pattern] = []
    _walk(algebra, True, required, read)
    return _Constraint(tuple(required), tuple(read))


_PASSING = {"SelectQuery", "Project", "Distinct", "Reduced", "Slice", "OrderBy", "ToMultiSet"}


def _walk(node: object, required: bool, into: list[_Pattern], read: list[_Pattern]) -> None:
    from rdflib.plugins.sparql.parserutils import CompValue

    if not isinstance(node, CompValue):
        raise Unsupported(f"SPARQL algebra {node!r}")
    name = node.name
    if name == "BGP":
        for triple in node.triples:
            pattern = _pattern(triple)
            read.append(pattern)
            if required:
                into.append(pattern)
    elif name in _PASSING:
        _walk(node.p, required, into, read)
    elif name in ("Filter", "Extend"):
        _walk(node.p, required, into, read)
        _walk_expression(node.expr, into, read)
    elif name == "Join":
        _walk(node.p1, required, into, read)
        _walk(node.p2, required, into, read)
    elif name in ("LeftJoin", "Minus"):
        _walk(node.p1, required, into, read)
        _walk(node.p2, False, into, read)
        if name == "LeftJoin":
            _walk_expression(node.get("expr"), into, read)
    elif name == "Union":
        _walk(node.p1, False, into, read)
        _walk(node.p2, False, into, read)
    else:
        raise Unsupported(f"SPARQL algebra {name}")


def _walk_expression(expression: object, into: list[_Pattern], read: list[_Pattern]) -> None:
    """The patterns inside (NOT) EXISTS anywhere in an expression: read, not required."""
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(expression, CompValue):
        if expression.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
            _walk(expression.graph, False, into, read)
            return
        for value in expression.values():
            _walk_expression(value, into, read)
    elif isinstance(expression, list | tuple):
        for value in expression:
            _walk_expression(value, into, read)


def _pattern(triple: tuple[rdflib.term.Node, object, rdflib.term.Node]) -> _Pattern:
    subject, predicate, obj = triple
    predicates: Predicates
    if isinstance(predicate, rdflib.Variable):
        predicates = predicate
    elif isinstance(predicate, rdflib.URIRef):
        predicates = (ox.NamedNode(str(predicate)),)
    elif isinstance(predicate, AlternativePath) and all(
        isinstance(p, rdflib.URIRef) for p in predicate.args
    ):
        predicates = tuple(ox.NamedNode(str(p)) for p in predicate.args)
    else:
        raise Unsupported(f"SPARQL path {predicate!r}")
    return _Pattern(_slot(subject), predicates, _slot(obj))


def _slot(term: rdflib.term.Node) -> Slot:
    if isinstance(term, rdflib.Variable):
        return term
    converted = from_rdflib(term)
    if not isinstance(converted, ox.NamedNode | ox.Literal):
        raise Unsupported("a blank node in a SPARQL constraint's pattern")
    return converted
