"""A fast SHACL engine: the shapes read once, the data read from pyoxigraph in bulk.

pyshacl evaluates every SPARQL-based constraint by parsing its query again for each
focus node with rdflib (4,436 parses, 92% of a 188 s run at 1,000 engagements), and
walks the data in Python; a whole-graph run does not finish in 15 minutes at
10,000 engagements. Here a shape costs a few reads of the whole store, and the Python
work goes by distinct value, not by focus node × constraint:

- the focus nodes of a shape: one query per target (class targets include
  instances of sub-classes, ``rdf:type/rdfs:subClassOf*``, as SHACL says), shared by
  the shapes with the same target;
- the values of a property shape whose path is a predicate, or a choice of
  predicates: read from the store's index (subject → objects) once per run for all
  the shapes that read the predicate, and dropped after the last; another path: one
  query joined with the target;
- the core constraints: counts from the grouped values; a value test (sh:class,
  sh:datatype, sh:pattern…) once per distinct value, and for a predicate read whole
  once for all the shapes with the same test. Only the focus nodes that fail
  something go through the node-by-node code that writes the results;
- shapes reached through ``sh:node``, ``sh:or``, ``sh:xone``, ``sh:and`` and
  ``sh:not``: judged for all their nodes at once when no shape below is recursive or
  could raise :class:`Unsupported` (see ``_judgeable_together``), else node by node,
  each verdict kept for the run;
- a SPARQL-based constraint: its own ``SELECT`` with the target pattern put in
  front of its ``WHERE`` clause, so ``$this`` is bound as pre-binding would bind it.

Most of a run is now pyoxigraph turning stored triples into Python terms (about a
microsecond and a half each); at 10,000 engagements (468k triples) it takes 1.3 s of
CPU, where checking node by node took 6.4 s. The results are those of a pyshacl run
(``advanced=True``, no inference) on the same graph, including the nested results
pyshacl reports for a failed ``sh:node`` (``sh:detail``): tests/performance proves
it on generated data with planted violations and on every invalid fixture. Shapes
that use a feature outside this subset raise :class:`Unsupported`, and the
validator falls back to pyshacl.
"""

from __future__ import annotations

import functools
import gc
import operator
import re
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox
import rdflib
from rdflib.collection import Collection

from defence_engagements.pipeline.reason import from_rdflib

SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
RDF = rdflib.RDF
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

# What a shape may say for this engine to run it (anything else: Unsupported).
_SHAPE_KEYS = {
    RDF.type, SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf, SH.targetNode,
    SH.property, SH.path, SH.message, SH.severity, SH.name, SH.description, SH.order,
    SH.group, SH.deactivated, SH.sparql,
    SH.minCount, SH.maxCount, SH["class"], SH.datatype, SH.nodeKind, SH.pattern, SH.flags,
    SH.minLength, SH.maxLength, SH["in"], SH.hasValue, SH.node, SH["or"], SH.xone,
    SH["and"], SH["not"], SH.disjoint,
    rdflib.RDFS.label, rdflib.RDFS.comment,
}  # fmt: skip
_SPARQL_CONSTRAINT_KEYS = {
    RDF.type, SH.select, SH.prefixes, SH.message, SH.severity, SH.deactivated,
    rdflib.RDFS.label, rdflib.RDFS.comment,
}  # fmt: skip
# Datatypes whose lexical forms are checked (rdflib's ill_typed, as pyshacl does): a
# value typed with one of them conforms to sh:datatype only when well formed.
_LEXICALLY_CHECKED = {
    XSD + name
    for name in [
        "boolean",
        "integer",
        "decimal",
        "float",
        "double",
        "date",
        "dateTime",
        "time",
        "gYear",
        "gYearMonth",
        "gMonth",
        "gDay",
        "gMonthDay",
        "duration",
        "dayTimeDuration",
        "yearMonthDuration",
    ]
}


class Unsupported(Exception):
    """The shapes use something this engine does not evaluate; use pyshacl."""


@dataclass(frozen=True)
class Result:
    """One validation result, with the terms pyshacl would report."""

    focus: ox.Term
    shape: rdflib.term.Node
    path: rdflib.term.Node | None  # the shape's sh:path node (in the shapes graph)
    value: ox.Term | None
    severity: str  # the sh: IRI
    component: str  # the sh: IRI of the constraint component
    messages: tuple[str, ...]


@dataclass
class Shape:
    node: rdflib.term.Node
    severity: str
    messages: tuple[str, ...]
    path: rdflib.term.Node | None = None
    path_sparql: str = ""
    predicates: tuple[str, ...] = ()  # the path's predicates, if a predicate or a choice
    targets: list[str] = field(default_factory=list)  # SPARQL patterns binding ?this
    target_class: str | None = None  # the class, when its one target is sh:targetClass
    constraints: list[tuple[str, object]] = field(default_factory=list)  # (local name, …)
    properties: list[Shape] = field(default_factory=list)
    sparql: list[_SparqlConstraint] = field(default_factory=list)


@dataclass
class _SparqlConstraint:
    node: rdflib.term.Node
    select: str  # the query with $this as ?this and a {TARGET} slot in its WHERE
    prefixes: str
    severity: str
    messages: tuple[str, ...]


def _iri(node: rdflib.term.Node) -> str:
    if not isinstance(node, rdflib.URIRef):
        raise Unsupported(f"expected an IRI, found {node!r}")
    return f"<{node}>"


class CompiledShapes:
    """The shapes of a shapes graph, ready to validate pyoxigraph stores."""

    def __init__(self, shapes: rdflib.Graph) -> None:
        self.graph = shapes
        self._shapes: dict[rdflib.term.Node, Shape] = {}
        roots = {
            s
            for p in (SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf, SH.targetNode)
            for s in shapes.subjects(p, None)
        }
        for implicit in shapes.subjects(RDF.type, rdflib.RDFS.Class):
            if (implicit, RDF.type, SH.NodeShape) in shapes:
                raise Unsupported("implicit class targets")
        self.roots = [self._shape(node) for node in sorted(roots, key=str)]

    # ---- reading the shapes graph ----------------------------------------------------

    def _shape(self, node: rdflib.term.Node) -> Shape:
        if node in self._shapes:
            return self._shapes[node]
        g = self.graph
        for predicate in set(g.predicates(node, None)):
            if predicate not in _SHAPE_KEYS:
                raise Unsupported(f"{node}: {predicate} is not supported")
        if g.value(node, SH.deactivated) is not None:
            raise Unsupported(f"{node}: sh:deactivated")
        shape = Shape(
            node=node,
            severity=str(g.value(node, SH.severity) or SH.Violation),
            messages=tuple(sorted(str(m) for m in g.objects(node, SH.message))),
        )
        self._shapes[node] = shape  # before recursing: shapes may refer to each other
        path = g.value(node, SH.path)
        if path is not None:
            shape.path, shape.path_sparql = path, self._path(path)
            shape.predicates = self._predicates(path)
        for cls in g.objects(node, SH.targetClass):
            shape.targets.append(f"?this a/<{rdflib.RDFS.subClassOf}>* {_iri(cls)} .")
        for prop in g.objects(node, SH.targetSubjectsOf):
            shape.targets.append(f"?this {_iri(prop)} [] .")
        for prop in g.objects(node, SH.targetObjectsOf):
            shape.targets.append(f"[] {_iri(prop)} ?this .")
        for target in g.objects(node, SH.targetNode):
            shape.targets.append(f"VALUES ?this {{ {from_rdflib(target)} }}")
        classes = list(g.objects(node, SH.targetClass))
        if len(shape.targets) == 1 and len(classes) == 1:
            shape.target_class = str(classes[0])
        for predicate, obj in sorted(g.predicate_objects(node)):
            if predicate in (SH.node, SH["not"]):
                shape.constraints.append((_local(predicate), self._shape(obj)))
            elif predicate in (SH["or"], SH.xone, SH["and"]):
                members = [self._shape(m) for m in Collection(g, obj)]
                shape.constraints.append((_local(predicate), members))
            elif predicate == SH["in"]:
                shape.constraints.append(
                    (_local(predicate), {from_rdflib(m) for m in Collection(g, obj)})
                )
            elif predicate == SH.pattern:
                flags = str(g.value(node, SH.flags) or "")
                shape.constraints.append((_local(predicate), _regex(str(obj), flags)))
            elif predicate in (SH.minCount, SH.maxCount, SH.minLength, SH.maxLength):
                shape.constraints.append((_local(predicate), int(obj)))
            elif predicate in (SH["class"], SH.datatype, SH.nodeKind, SH.disjoint):
                shape.constraints.append((_local(predicate), str(obj)))
            elif predicate == SH.hasValue:
                shape.constraints.append((_local(predicate), from_rdflib(obj)))
            elif predicate == SH.property:
                shape.properties.append(self._shape(obj))
            elif predicate == SH.sparql:
                shape.sparql.append(self._sparql(obj, shape))
        if shape.path is None and any(
            p in ("minCount", "maxCount", "disjoint") for p, _ in shape.constraints
        ):
            raise Unsupported(f"{node}: a count or pair constraint on a node shape")
        if shape.path is not None and (shape.properties or shape.sparql):
            raise Unsupported(f"{node}: nested property or SPARQL constraints on a path")
        return shape

    def _path(self, path: rdflib.term.Node) -> str:
        g = self.graph
        if isinstance(path, rdflib.URIRef):
            return _iri(path)
        if (path, RDF.first, None) in g:
            return "(" + "/".join(self._path(p) for p in Collection(g, path)) + ")"
        for key, template in (
            (SH.inversePath, "^({})"),
            (SH.zeroOrMorePath, "({})*"),
            (SH.oneOrMorePath, "({})+"),
            (SH.zeroOrOnePath, "({})?"),
        ):
            inner = g.value(path, key)
            if inner is not None:
                return template.format(self._path(inner))
        alternatives = g.value(path, SH.alternativePath)
        if alternatives is not None:
            return "(" + "|".join(self._path(p) for p in Collection(g, alternatives)) + ")"
        raise Unsupported(f"path {path!r}")

    def _predicates(self, path: rdflib.term.Node) -> tuple[str, ...]:
        """The predicates of a path that is one predicate or a choice of them, else ().

        Such a path is read straight from the store's index, not through a query.
        """
        g = self.graph
        if isinstance(path, rdflib.URIRef):
            return (str(path),)
        if (path, RDF.first, None) in g or any(
            g.value(path, key) is not None
            for key in (SH.inversePath, SH.zeroOrMorePath, SH.oneOrMorePath, SH.zeroOrOnePath)
        ):
            return ()  # what _path reads first
        alternatives = g.value(path, SH.alternativePath)
        members = [] if alternatives is None else list(Collection(g, alternatives))
        if members and all(isinstance(m, rdflib.URIRef) for m in members):
            return tuple(str(m) for m in members)
        return ()

    def _sparql(self, node: rdflib.term.Node, owner: Shape) -> _SparqlConstraint:
        g = self.graph
        for predicate in set(g.predicates(node, None)):
            if predicate not in _SPARQL_CONSTRAINT_KEYS:
                raise Unsupported(f"{node}: {predicate} is not supported")
        select = str(g.value(node, SH.select) or "")
        if not select or "$PATH" in select or "$currentShape" in select or "$shapesGraph" in select:
            raise Unsupported(f"{node}: SPARQL constraint form")
        select = re.sub(r"\$this\b", "?this", select)
        head, brace, body = select.partition("{")
        projection = head.upper().split("SELECT", 1)[-1]
        if not brace or ("*" not in projection and "?THIS" not in projection):
            raise Unsupported(f"{node}: a SPARQL constraint must select $this")
        prefixes = "".join(
            f"PREFIX {g.value(declaration, SH.prefix)}: <{g.value(declaration, SH.namespace)}>\n"
            for holder in g.objects(node, SH.prefixes)
            for declaration in g.objects(holder, SH.declare)
        )
        return _SparqlConstraint(
            node=node,
            select=head + brace + " {TARGET} " + body,
            prefixes=prefixes,
            severity=str(g.value(node, SH.severity) or owner.severity),
            messages=tuple(sorted(str(m) for m in g.objects(node, SH.message))) or owner.messages,
        )

    # ---- validating --------------------------------------------------------------------

    def validate(
        self,
        store: ox.Store,
        *,
        graphs: list[ox.NamedNode] | None = None,
        focus: Iterable[ox.Term] | None = None,
    ) -> list[Result]:
        """Every result over ``store``, which is only read: over its default graph, or
        over the union of ``graphs``; for every focus node, or only for those of
        ``focus`` (a rebuild judges what its change can affect, see :mod:`.reach`)."""
        # A run makes millions of short-lived objects, none in a reference cycle: with
        # the cyclic collector on, each of its full passes walks the whole heap again
        # (a third of the time at 10,000 engagements, more the bigger the heap).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._validate(store, graphs, focus)
        finally:
            if collecting:
                gc.enable()

    def _validate(
        self,
        store: ox.Store,
        graphs: list[ox.NamedNode] | None,
        focus: Iterable[ox.Term] | None,
    ) -> list[Result]:
        run = _Run(store, self._lookups(), graphs, focus)
        results: list[Result] = []
        for shape in self.roots:
            focus = run.focus(shape)
            if shape.path is not None:  # a property shape with its own targets
                results += run.property_shape_results(shape, focus)
                continue
            results += run.node_shape_results(shape, focus)
            for prop in shape.properties:
                results += run.property_shape_results(prop, focus)
            for constraint in shape.sparql:
                results += run.sparql_results(shape, constraint, focus.pattern)
        return results

    def _lookups(self) -> Counter[str]:
        """How often a run reads each predicate for the focus nodes of a root shape."""
        lookups: Counter[str] = Counter()
        for shape in self.roots:
            for prop in [shape] if shape.path is not None else shape.properties:
                lookups.update(prop.predicates)
                lookups.update(p for c, p in prop.constraints if c == "disjoint")  # type: ignore[misc]
        return lookups


def _local(predicate: rdflib.term.Node) -> str:
    return str(predicate).removeprefix(str(SH))


@functools.cache
def _component(name: str) -> str:
    """The IRI of a constraint component: ``minCount`` → ``sh:MinCountConstraintComponent``."""
    return f"{SH}{name[0].upper()}{name[1:]}ConstraintComponent"


def _regex(pattern: str, flags: str) -> re.Pattern[str]:
    python_flags = 0
    for flag, value in (("i", re.IGNORECASE), ("s", re.DOTALL), ("m", re.MULTILINE)):
        if flag in flags:
            python_flags |= value
    if set(flags) - set("ism"):
        raise Unsupported(f"regex flags {flags!r}")
    return re.compile(pattern, python_flags)


_PLAIN_IRI = re.compile(r"<[^<>\s]*>")
NESTING = ("node", "not", "and", "or", "xone")  # constraints that refer to shapes
_SUBJECT_OBJECT = operator.attrgetter("subject", "object")
_RDF_TYPE = ox.NamedNode(str(RDF.type))
_PLAIN_TERMS = (ox.NamedNode, ox.BlankNode, ox.Literal)


def _judged_anywhere(component: str, parameter: object) -> bool:
    """Whether a value constraint is a plain test of the value, which raises nothing."""
    if component == "nodeKind":
        return parameter in _NODE_KINDS
    return component in ("class", "datatype", "pattern", "minLength", "maxLength", "in")


def _judgeable_together(shape: Shape, within: tuple[rdflib.term.Node, ...]) -> bool:
    """Whether ``shape`` (reached through sh:node and its kin) can judge nodes together.

    Judged together, every node meets every constraint; one by one, a node stops at
    its first result. The verdicts agree unless a constraint left unreached one by one
    would raise Unsupported, or never end: so no shape below may be recursive or hold
    a SPARQL constraint, a path but a plain predicate (all that is read from a blank
    node), sh:disjoint or an unknown node kind.
    """
    if shape.node in within:
        return False  # a recursive shape
    props = [shape] if shape.path is not None else shape.properties
    if shape.sparql or not all(_PLAIN_IRI.fullmatch(prop.path_sparql) for prop in props):
        return False
    constraints = [c for prop in props for c in prop.constraints]
    if shape.path is None:
        constraints += shape.constraints
    for component, parameter in constraints:
        if component == "disjoint" or (component == "nodeKind" and parameter not in _NODE_KINDS):
            return False
        if component in NESTING:
            below = parameter if isinstance(parameter, list) else [parameter]
            if not all(_judgeable_together(s, (*within, shape.node)) for s in below):
                return False
    return True


# Fewer focus nodes than this read a predicate node by node; more read it whole, once.
_WHOLE_PREDICATE_FROM = 256


@functools.cache
def _named(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


class _Predicate(dict["ox.Term", list["ox.Term"]]):  # (ox.Term: only in the type stubs)
    """Subject → objects of one predicate over the whole store, and the values that
    fail a value constraint, worked out once for all the shapes reading it."""

    __slots__ = ("_failing", "_plain", "_values")

    def __init__(self, table: dict[ox.Term, list[ox.Term]]) -> None:
        super().__init__(table)
        self._values: set[ox.Term] = set()
        self._plain = False  # whether every value is an IRI, a blank node or a literal
        self._failing: dict[tuple[str, object], set[ox.Term]] = {}

    def failing(self, component: str, parameter: object, run: _Run) -> set[ox.Term] | None:
        """The values that fail a plain test of the value (see _judged_anywhere).

        None when the test could raise on a value: a triple term has no string to match.
        """
        key = (component, parameter if isinstance(parameter, Hashable) else id(parameter))
        if key not in self._failing:
            if not self._values:
                self._values = {value for found in self.values() for value in found}
                self._plain = all(isinstance(v, _PLAIN_TERMS) for v in self._values)
            if not self._plain and component in ("pattern", "minLength", "maxLength"):
                return None
            self._failing[key] = run.failing(component, parameter, self._values)
        return self._failing[key]


@dataclass
class _Focus:
    """The focus nodes of a target pattern: in the order found, and as a set."""

    pattern: str | None  # None: nodes reached through sh:node and its kin
    nodes: list[ox.Term]
    members: set[ox.Term]


class _Run:
    """One validation of one store: its reads, and what they found, kept for the run.

    A shape's constraints are first judged for all its focus nodes together
    (``*_shape_results``, ``_flagged``, ``failing``); the focus nodes they flag then
    go through the node-by-node code (``node_results``, ``property_results``), which
    writes each result and its details as it always did.
    """

    def __init__(
        self,
        store: ox.Store,
        lookups: Counter[str],
        graphs: list[ox.NamedNode] | None = None,
        only: Iterable[ox.Term] | None = None,
    ) -> None:
        self.store = store
        self._graphs: list[ox.NamedNode | ox.DefaultGraph] = graphs or [ox.DefaultGraph()]
        self._only = None
        if only is not None:
            only = set(only)
            if any(isinstance(node, ox.BlankNode) for node in only):
                # A blank node in a query is a variable: it cannot name the node.
                raise Unsupported("a blank focus node to judge alone")
            self._only = " ".join(sorted(str(node) for node in only))
        self._types_of: dict[ox.Term, set[ox.Term]] = {}
        self._subclasses: dict[str, set[ox.Term]] = {}
        self._members: dict[str, list[ox.Term]] = {}  # class → instances, as found
        self._instances: dict[str, set[ox.Term]] = {}
        self._focus: dict[str, _Focus] = {}  # target pattern → its focus nodes
        self._by_predicate: dict[str, dict[ox.Term, list[ox.Term]]] = {}
        self._lookups = lookups  # reads of each predicate still to come
        # (target pattern, path) → values read with a query, and the values to check.
        self._joined: dict[tuple[str, str], dict[ox.Term, list[ox.Term]]] = {}
        self._distinct: dict[tuple[str, str], set[ox.Term]] = {}
        # A shape reached through sh:node (and its kin) is checked against the same
        # values again and again (dates): its results, or only whether it conforms.
        self._nested: dict[tuple[rdflib.term.Node, ox.Term], list[Result]] = {}
        self._conforms: dict[tuple[rdflib.term.Node, ox.Term], bool] = {}
        self._together: dict[rdflib.term.Node, bool] = {}  # see _judged_together

    # -- reading the store ---------------------------------------------------------------

    def focus(self, shape: Shape) -> _Focus:
        """The focus nodes of a root shape (many shapes share a target)."""
        pattern = " UNION ".join(f"{{ {t} }}" for t in shape.targets)
        if self._only is not None:
            pattern = f"VALUES ?this {{ {self._only} }} {{ {pattern} }}"
        if pattern not in self._focus:
            if shape.target_class is not None and self._only is None:  # as sh:class asks
                nodes = self._class_members(shape.target_class)
                members = self._instances[shape.target_class]
            else:
                query = f"SELECT DISTINCT ?this WHERE {{ {pattern} }}"
                nodes = [row[0] for row in self.query(query)]
                members = set(nodes)
            self._focus[pattern] = _Focus(pattern, nodes, members)
        return self._focus[pattern]

    def values_of(
        self, focus: _Focus, path: str, predicates: tuple[str, ...]
    ) -> dict[ox.Term, list[ox.Term]]:
        """Subject → the distinct values of ``path``, for every focus node that has any.

        Read from a whole predicate, it holds other subjects too: look focus nodes up.
        """
        if not predicates:  # a path that is more than a predicate or a choice of them
            assert focus.pattern is not None
            key = (focus.pattern, path)
            if key not in self._joined:
                query = (
                    f"SELECT DISTINCT ?this ?value WHERE {{ {{ {focus.pattern} }} "
                    f"?this {path} ?value }}"
                )
                grouped: dict[ox.Term, list[ox.Term]] = defaultdict(list)
                for row in self.query(query):
                    grouped[row[0]].append(row[1])
                self._joined[key] = grouped
            return self._joined[key]
        tables = [self._objects_by_subject(p, focus) for p in predicates]
        if len(tables) == 1:
            return tables[0]
        merged: dict[ox.Term, list[ox.Term]] = defaultdict(list)
        for table in tables:
            for subject, found in table.items():
                if subject in focus.members:
                    merged[subject] += found
        # One value reached through two predicates counts once (SELECT DISTINCT).
        return {subject: list(dict.fromkeys(found)) for subject, found in merged.items()}

    def distinct_values(
        self, focus: _Focus, path: str, table: dict[ox.Term, list[ox.Term]]
    ) -> set[ox.Term]:
        """Every value of ``path`` on some focus node: each is checked once."""
        key = (focus.pattern, path)
        if focus.pattern is None or key not in self._distinct:
            if table.keys() <= focus.members:
                subjects: Iterable[ox.Term] = table
            else:
                subjects = table.keys() & focus.members
            found = {value for subject in subjects for value in table[subject]}
            if focus.pattern is None:
                return found
            self._distinct[key] = found
        return self._distinct[key]

    def _objects_by_subject(self, predicate: str, focus: _Focus) -> dict[ox.Term, list[ox.Term]]:
        """Subject → objects of ``predicate``: the whole predicate, or for a few nodes only."""
        self._lookups[predicate] -= 1
        table = self._by_predicate.get(predicate)
        if table is None and len(focus.nodes) < _WHOLE_PREDICATE_FROM:
            return {
                node: found for node in focus.nodes if (found := self._objects(node, predicate))
            }
        if table is None:
            table = self._by_predicate[predicate] = self._scan(predicate)
        if self._lookups[predicate] <= 0:
            del self._by_predicate[predicate]  # no root shape reads it again: free it
        return table

    def _scan(self, predicate: str) -> _Predicate:
        """Subject → objects, for every triple of ``predicate``."""
        table: dict[ox.Term, list[ox.Term]] = defaultdict(list)
        for subject, value in map(_SUBJECT_OBJECT, self.quads(None, _named(predicate), None)):
            table[subject].append(value)
        return _Predicate(table)

    def quads(
        self, subject: ox.Term | None, predicate: ox.NamedNode | None, value: ox.Term | None
    ) -> Iterator[ox.Quad]:
        """The quads of the pattern in the graphs judged (a triple in two of them once)."""
        if len(self._graphs) == 1:
            yield from self.store.quads_for_pattern(subject, predicate, value, self._graphs[0])
            return
        seen: set[ox.Triple] = set()
        for graph in self._graphs:
            for quad in self.store.quads_for_pattern(subject, predicate, value, graph):
                if quad.triple not in seen:
                    seen.add(quad.triple)
                    yield quad

    def query(self, query: str) -> ox.QuerySolutions:
        if isinstance(self._graphs[0], ox.DefaultGraph):
            return self.store.query(query)  # type: ignore[return-value]
        return self.store.query(query, default_graph=self._graphs)  # type: ignore[return-value]

    def _objects(self, node: ox.Term, predicate: str) -> list[ox.Term]:
        if isinstance(node, ox.Literal):
            return []  # a literal is the subject of no triple
        return [quad.object for quad in self.quads(node, _named(predicate), None)]

    def values_of_node(
        self, node: ox.Term, path: str, predicates: tuple[str, ...]
    ) -> list[ox.Term]:
        if isinstance(node, ox.Literal):
            return []  # a literal is the subject of no triple
        if isinstance(node, ox.BlankNode):
            # In a query `_:b` is a variable, not this node: only a plain predicate is
            # looked up directly; anything else goes to pyshacl.
            if not _PLAIN_IRI.fullmatch(path):
                raise Unsupported(f"path {path} from a blank node")
            return self._objects(node, path[1:-1])
        if len(predicates) == 1:
            return self._objects(node, predicates[0])  # no query to parse
        if predicates:
            return list(dict.fromkeys(v for p in predicates for v in self._objects(node, p)))
        query = f"SELECT DISTINCT ?value WHERE {{ {node} {path} ?value }}"
        return [row[0] for row in self.query(query)]

    def is_instance(self, node: ox.Term, cls: str) -> bool:
        """sh:class: whether ``node`` has a type that is ``cls`` or a subclass of it.
        A whole run lists each class's instances once; a run for a few focus nodes
        looks at the types of the few values it meets."""
        if self._only is None:
            return node in self.instances(cls)
        if isinstance(node, ox.Literal):
            return False
        types = self._types_of.get(node)
        if types is None:
            types = self._types_of[node] = {q.object for q in self.quads(node, _RDF_TYPE, None)}
        subclasses = self._subclasses.get(cls)
        if subclasses is None:
            query = f"SELECT ?c WHERE {{ ?c <{rdflib.RDFS.subClassOf}>* <{cls}> }}"
            subclasses = self._subclasses[cls] = {row[0] for row in self.query(query)}
        return not types.isdisjoint(subclasses)

    def instances(self, cls: str) -> set[ox.Term]:
        if cls not in self._instances:
            self._class_members(cls)
        return self._instances[cls]

    def _class_members(self, cls: str) -> list[ox.Term]:
        if cls not in self._members:
            query = f"SELECT DISTINCT ?x WHERE {{ ?x a/<{rdflib.RDFS.subClassOf}>* <{cls}> }}"
            self._members[cls] = [row[0] for row in self.query(query)]
            self._instances[cls] = set(self._members[cls])
        return self._members[cls]

    # -- every focus node of a shape at once ---------------------------------------------

    def node_shape_results(self, shape: Shape, focus: _Focus) -> list[Result]:
        """Results of the node-level constraints of ``shape`` on its focus nodes."""
        failing: set[ox.Term] = set()
        for component, parameter in shape.constraints:
            failing |= self.failing(component, parameter, focus.nodes)
        if not failing:
            return []
        return [
            result
            for node in focus.nodes
            if node in failing
            for result in self.node_results(shape, node)
        ]

    def property_shape_results(self, shape: Shape, focus: _Focus) -> list[Result]:
        """Results of the property shape ``shape`` on the focus nodes."""
        table = self.values_of(focus, shape.path_sparql, shape.predicates)
        flagged = self._flagged(shape, focus, table)
        if not flagged:
            return []
        return [
            result
            for node in focus.nodes
            if node in flagged
            for result in self.property_results(shape, node, table.get(node, []))
        ]

    def _flagged(
        self, shape: Shape, focus: _Focus, table: dict[ox.Term, list[ox.Term]]
    ) -> set[ox.Term]:
        """The focus nodes that fail some constraint of a property shape."""
        members = focus.members
        flagged: set[ox.Term] = set()
        for component, parameter in shape.constraints:
            if component == "minCount":
                if parameter == 1:
                    flagged |= members.difference(table)
                elif parameter > 1:  # type: ignore[operator]
                    flagged.update(n for n in focus.nodes if len(table.get(n, ())) < parameter)  # type: ignore[operator]
            elif component == "maxCount":
                flagged.update(
                    n
                    for n, found in table.items()
                    if len(found) > parameter and n in members  # type: ignore[operator]
                )
            elif component == "hasValue":
                flagged.update(n for n in focus.nodes if parameter not in table.get(n, ()))
            elif component == "disjoint":
                others = self.values_of(focus, f"<{parameter}>", (parameter,))  # type: ignore[arg-type]
                flagged.update(
                    n
                    for n, found in table.items()
                    if n in others and n in members and not set(others[n]).isdisjoint(found)
                )
            else:
                failing = None
                if isinstance(table, _Predicate) and _judged_anywhere(component, parameter):
                    # Judged on every value of the predicate, once for all the shapes
                    # that read it: a test that raises nothing on a value nobody asked about.
                    failing = table.failing(component, parameter, self)
                if failing is None:
                    distinct = self.distinct_values(focus, shape.path_sparql, table)
                    failing = self.failing(component, parameter, distinct)
                if failing:
                    flagged.update(
                        n
                        for n, found in table.items()
                        if n in members and not failing.isdisjoint(found)
                    )
        return flagged

    def failing(self, component: str, parameter: object, values: Iterable[ox.Term]) -> set[ox.Term]:
        """The values that fail one value constraint, each checked once."""
        if component == "class":
            return {value for value in values if not self.is_instance(value, parameter)}  # type: ignore[arg-type]
        if component == "in":
            return {value for value in values if value not in parameter}  # type: ignore[operator]
        # The common checks inline (a call per value costs more than the check).
        if component == "datatype":
            return {value for value in values if not _has_datatype(value, parameter)}  # type: ignore[arg-type]
        if component == "pattern":
            search = parameter.search  # type: ignore[attr-defined]
            return {
                value
                for value in values
                if isinstance(value, ox.BlankNode) or not search(value.value)
            }
        if component == "minLength":
            return {
                value
                for value in values
                if isinstance(value, ox.BlankNode) or len(value.value) < parameter  # type: ignore[operator]
            }
        if component in NESTING and self._judged_together(parameter):
            return self._failing_nested(component, parameter, set(values))
        return {value for value in values if not self._verdict(component, parameter, value)[0]}

    # -- shapes reached through sh:node, sh:not, sh:and, sh:or, sh:xone ------------------

    def _judged_together(self, parameter: object) -> bool:
        """Whether the shapes a constraint refers to can judge many nodes at once."""
        shapes = parameter if isinstance(parameter, list) else [parameter]
        for shape in shapes:
            if shape.node not in self._together:
                self._together[shape.node] = _judgeable_together(shape, ())
        return all(self._together[shape.node] for shape in shapes)

    def _failing_nested(
        self, component: str, parameter: object, nodes: set[ox.Term]
    ) -> set[ox.Term]:
        """The nodes that fail sh:node, sh:not, sh:and, sh:or or sh:xone, judged together."""
        if component == "node":
            return self._nonconforming(parameter, nodes)  # type: ignore[arg-type]
        if component == "not":
            return nodes - self._nonconforming(parameter, nodes)  # type: ignore[arg-type]
        members: list[Shape] = parameter  # type: ignore[assignment]
        if component == "and":
            failing: set[ox.Term] = set()
            for member in members:
                failing |= self._nonconforming(member, nodes - failing)
            return failing
        if component == "or":
            failing = nodes
            for member in members:  # those that fail every member so far
                failing = self._nonconforming(member, failing)
            return failing
        conforming: Counter[ox.Term] = Counter()  # sh:xone: exactly one member conforms
        for member in members:
            conforming.update(nodes - self._nonconforming(member, nodes))
        return {node for node in nodes if conforming[node] != 1}

    def _nonconforming(self, shape: Shape, nodes: set[ox.Term]) -> set[ox.Term]:
        """The nodes that do not conform to ``shape``, each judged as its focus node."""
        if not nodes:
            return set()
        focus = _Focus(None, list(nodes), nodes)
        if shape.path is not None:
            return self._flagged(shape, focus, self._nested_table(nodes, shape.predicates[0]))
        failing: set[ox.Term] = set()
        for component, parameter in shape.constraints:
            failing |= self.failing(component, parameter, nodes)
        for prop in shape.properties:
            failing |= self._flagged(prop, focus, self._nested_table(nodes, prop.predicates[0]))
        return failing

    def _nested_table(self, nodes: set[ox.Term], predicate: str) -> dict[ox.Term, list[ox.Term]]:
        """Node → objects of ``predicate``, for the nodes a nested shape judges."""
        table = self._by_predicate.get(predicate)
        if table is not None:
            return table
        # A scan costs about a third of a lookup per triple: it pays when the predicate
        # has fewer than three triples a node (counted up to there, not further).
        limit = 3 * len(nodes)
        if len(nodes) >= _WHOLE_PREDICATE_FROM and self._count(predicate, limit) < limit:
            table = self._by_predicate[predicate] = self._scan(predicate)  # kept: it is small
            return table
        return {node: found for node in nodes if (found := self._objects(node, predicate))}

    def _count(self, predicate: str, limit: int) -> int:
        """The number of triples of ``predicate``, if under ``limit``; else ``limit``."""
        query = (
            f"SELECT (COUNT(*) AS ?n) WHERE {{ {{ SELECT ?s WHERE {{ ?s <{predicate}> ?o }} "
            f"LIMIT {limit} }} }}"
        )
        return int(next(iter(self.query(query)))[0].value)  # type: ignore[index, union-attr]

    # -- one focus node ----------------------------------------------------------------

    def conforms(self, shape: Shape, node: ox.Term) -> bool:
        key = (shape.node, node)
        if key in self._nested:
            return not self._nested[key]
        verdict = self._conforms.get(key)
        if verdict is None:  # stop at the first result, as a nested check needs no more
            verdict = self._conforms[key] = not next(self._all_results(shape, node), None)
        return verdict

    def nested_results(self, shape: Shape, node: ox.Term) -> list[Result]:
        key = (shape.node, node)
        found = self._nested.get(key)
        if found is None:
            found = self._nested[key] = list(self._all_results(shape, node))
        return found

    def _all_results(self, shape: Shape, node: ox.Term) -> Iterator[Result]:
        """Every result of ``node`` against ``shape``, as when it is a focus node."""
        if shape.path is not None:
            yield from self.property_results(
                shape, node, self.values_of_node(node, shape.path_sparql, shape.predicates)
            )
            return
        yield from self.node_results(shape, node)
        for prop in shape.properties:
            yield from self.property_results(
                prop, node, self.values_of_node(node, prop.path_sparql, prop.predicates)
            )
        for constraint in shape.sparql:
            if isinstance(node, ox.BlankNode):
                raise Unsupported("a SPARQL constraint on a blank node reached through a shape")
            yield from self.sparql_results(shape, constraint, f"VALUES ?this {{ {node} }}")

    def node_results(self, shape: Shape, node: ox.Term) -> list[Result]:
        """Results of the node-level constraints of ``shape`` on ``node`` (value = node)."""
        return [
            result
            for component, parameter in shape.constraints
            for result in self._check(shape, node, node, component, parameter)
        ]

    def property_results(self, shape: Shape, node: ox.Term, values: list[ox.Term]) -> list[Result]:
        results: list[Result] = []
        for component, parameter in shape.constraints:
            if component == "minCount" and len(values) < parameter:  # type: ignore[operator]
                results.append(self._result(shape, node, None, _component("minCount")))
            elif component == "maxCount" and len(values) > parameter:  # type: ignore[operator]
                results.append(self._result(shape, node, None, _component("maxCount")))
            elif component == "hasValue":
                if parameter not in values:
                    results.append(self._result(shape, node, None, _component("hasValue")))
            elif component == "disjoint":
                others = set(self.values_of_node(node, f"<{parameter}>", (parameter,)))  # type: ignore[arg-type]
                for value in values:
                    if value in others:
                        results.append(self._result(shape, node, value, _component("disjoint")))
            elif component not in ("minCount", "maxCount", "hasValue"):
                for value in values:
                    results += self._check(shape, node, value, component, parameter)
        return results

    def _check(
        self,
        shape: Shape,
        focus: ox.Term,
        checked: ox.Term,
        component: str,
        parameter: object,
    ) -> list[Result]:
        """The result (and its details) if ``checked`` fails one value constraint."""
        ok, details = self._verdict(component, parameter, checked)
        if ok:
            return []
        return [self._result(shape, focus, checked, _component(component)), *details]

    def _verdict(
        self, component: str, parameter: object, checked: ox.Term
    ) -> tuple[bool, list[Result]]:
        """Whether ``checked`` passes one value constraint, and a failed sh:node's results."""
        if component == "class":
            return self.is_instance(checked, parameter), []  # type: ignore[arg-type]
        if component == "datatype":
            return _has_datatype(checked, parameter), []  # type: ignore[arg-type]
        if component == "nodeKind":
            return _has_node_kind(checked, parameter), []  # type: ignore[arg-type]
        if component == "pattern":
            return not isinstance(checked, ox.BlankNode) and bool(
                parameter.search(checked.value)  # type: ignore[attr-defined, union-attr]
            ), []
        if component in ("minLength", "maxLength"):
            if isinstance(checked, ox.BlankNode):
                return False, []
            length = len(checked.value)  # type: ignore[union-attr]
            return (length >= parameter if component == "minLength" else length <= parameter), []  # type: ignore[operator]
        if component == "in":
            return checked in parameter, []  # type: ignore[operator]
        if component == "hasValue":
            return checked == parameter, []
        if component == "node":
            details = self.nested_results(parameter, checked)  # type: ignore[arg-type]
            return not details, details
        if component == "not":
            return not self.conforms(parameter, checked), []  # type: ignore[arg-type]
        if component == "and":
            return all(self.conforms(m, checked) for m in parameter), []  # type: ignore[attr-defined]
        if component == "or":
            return any(self.conforms(m, checked) for m in parameter), []  # type: ignore[attr-defined]
        if component == "xone":
            return sum(self.conforms(m, checked) for m in parameter) == 1, []  # type: ignore[attr-defined]
        raise Unsupported(f"constraint sh:{component}")

    def _result(
        self,
        shape: Shape,
        focus: ox.Term,
        value: ox.Term | None,
        component: str,
        messages: tuple[str, ...] | None = None,
        severity: str | None = None,
    ) -> Result:
        return Result(
            focus=focus,
            shape=shape.node,
            path=shape.path,
            value=value,
            severity=severity or shape.severity,
            component=component,
            messages=shape.messages if messages is None else messages,
        )

    def sparql_results(
        self, shape: Shape, constraint: _SparqlConstraint, pattern: str
    ) -> list[Result]:
        query = constraint.prefixes + constraint.select.replace("{TARGET}", f"{{ {pattern} }}")
        results = []
        seen: set[tuple[ox.Term, ox.Term | None, ox.Term | None]] = set()
        for row in self.query(query):
            bindings = _bindings(row)
            focus = bindings.get("this")
            if focus is None:
                continue
            value = bindings.get("value", focus if shape.path is None else None)
            path = bindings.get("path")
            if (focus, value, path) in seen:
                continue
            seen.add((focus, value, path))
            messages = tuple(_substitute(m, bindings) for m in constraint.messages)
            result = self._result(
                shape,
                focus,
                value,
                str(SH.SPARQLConstraintComponent),
                messages=messages,
                severity=constraint.severity,
            )
            if path is not None:
                result = Result(
                    result.focus,
                    result.shape,
                    rdflib.URIRef(path.value),
                    result.value,
                    result.severity,
                    result.component,
                    result.messages,
                )
            results.append(result)
        return results


def _bindings(row: ox.QuerySolution) -> dict[str, ox.Term]:
    out = {}
    for variable in ("this", "value", "path"):
        try:
            term = row[variable]
        except (KeyError, IndexError):
            continue
        if term is not None:
            out[variable] = term
    return out


def _substitute(message: str, bindings: dict[str, ox.Term]) -> str:
    def replace(match: re.Match[str]) -> str:
        term = bindings.get(match.group(1))
        if term is None:
            return match.group(0)
        return term.value if isinstance(term, ox.NamedNode | ox.Literal) else str(term)

    return re.sub(r"\{[?$](\w+)\}", replace, message)


def _has_datatype(term: ox.Term, datatype: str) -> bool:
    if not isinstance(term, ox.Literal):
        return False
    if datatype == RDF_LANGSTRING:
        return bool(term.language)
    if term.language or term.datatype.value != datatype:
        return False
    return datatype not in _LEXICALLY_CHECKED or _well_formed(term)


@functools.lru_cache(maxsize=65_536)
def _well_formed(term: ox.Literal) -> bool:
    """Whether a literal's lexical form is valid for its datatype (as rdflib judges)."""
    return not rdflib.Literal(term.value, datatype=term.datatype.value).ill_typed


_NODE_KINDS = {
    str(SH.IRI): (ox.NamedNode,),
    str(SH.Literal): (ox.Literal,),
    str(SH.BlankNode): (ox.BlankNode,),
    str(SH.BlankNodeOrIRI): (ox.BlankNode, ox.NamedNode),
    str(SH.BlankNodeOrLiteral): (ox.BlankNode, ox.Literal),
    str(SH.IRIOrLiteral): (ox.NamedNode, ox.Literal),
}


def _has_node_kind(term: ox.Term, kind: str) -> bool:
    allowed = _NODE_KINDS.get(kind)
    if allowed is None:
        raise Unsupported(f"node kind {kind}")
    return isinstance(term, allowed)


def load_store(triples: Iterable[ox.Triple]) -> ox.Store:
    """An in-memory store of the triples, in the default graph."""
    store = ox.Store()
    graph = ox.DefaultGraph()
    store.extend(ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples)
    return store
