"""A fast OWL 2 RL engine: the rules of the OWL 2 RL profile as SPARQL updates.

Each rule of the profile (OWL 2 Profiles, section 4.3, tables 4–9) is one
``INSERT … WHERE`` update run inside an in-memory pyoxigraph store, so the joins
run in Rust on the store's indexes instead of in Python over every triple.
The rule set mirrors owlrl's ``OWLRL_Semantics`` (the reference the build is
tested against) rule for rule, including its one-time rules, so the closures
are equal on every triple an RDF 1.1 store can hold.

The engine is specialised to the schema it is given: rules whose schema
triggers are absent are never run, and the rules that would need a variable
predicate in a property path (transitivity, property chains, intersections)
are generated per property/class from the schema, re-read whenever the schema
grows. The rules with one data atom (sub-properties, inverses, domains, ranges,
sub-classes…) are compiled together into one update per inferred class or
property, run over the whole store once and afterwards only over what each
round added (see close_store). Rounds repeat until a round adds nothing.

Deliberate differences from owlrl, all outside what a store can hold or what
the build publishes: no ``x owl:sameAs x`` (eq-ref), no triples with a literal
subject (SPARQL templates drop them), no triples with a blank-node predicate,
and inconsistencies are not reported as error triples (validation and the
consistency test own that).
"""

from __future__ import annotations

import graphlib
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox
from owlrl.AxiomaticTriples import OWLRL_Datatypes_Disjointness
from owlrl.OWLRL import OWLRL_Annotation_properties
from owlrl.XsdDatatypes import OWL_Datatype_Subsumptions, OWL_RL_Datatypes

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"

_PREFIXES = f"PREFIX rdf: <{RDF}>\nPREFIX rdfs: <{RDFS}>\nPREFIX owl: <{OWL}>\n"


@dataclass(frozen=True)
class Rule:
    """One OWL 2 RL rule: its profile name, the update, and an ASK guard.

    The guard is a pattern over the schema only: when it has no match the rule
    cannot fire, so the round skips it without touching the data.
    """

    name: str
    update: str
    guard: str


def _rule(name: str, insert: str, where: str, guard: str) -> Rule:
    return Rule(
        name=name,
        update=f"{_PREFIXES}INSERT {{ {insert} }} WHERE {{ {where} }}",
        guard=f"{_PREFIXES}ASK {{ {guard} }}",
    )


_LIST_MEMBER = "rdf:rest*/rdf:first"

# Table 9: the semantics of schema vocabulary (scm-*). Small joins over schema triples.
SCHEMA_RULES: tuple[Rule, ...] = (
    _rule(
        "scm-cls",
        "?c rdfs:subClassOf ?c, owl:Thing . ?c owl:equivalentClass ?c . "
        "owl:Nothing rdfs:subClassOf ?c .",
        "?c a owl:Class .",
        "?c a owl:Class .",
    ),
    _rule(
        "scm-sco",
        "?c1 rdfs:subClassOf ?c3 .",
        "?c1 rdfs:subClassOf ?c2 . FILTER(!sameTerm(?c1, ?c2)) "
        "?c2 rdfs:subClassOf+ ?c3 . FILTER(!sameTerm(?c1, ?c3))",
        "?c1 rdfs:subClassOf ?c2 .",
    ),
    _rule(
        "scm-eqc1",
        "?c1 rdfs:subClassOf ?c2 . ?c2 rdfs:subClassOf ?c1 .",
        "?c1 owl:equivalentClass ?c2 . FILTER(!sameTerm(?c1, ?c2))",
        "?c1 owl:equivalentClass ?c2 .",
    ),
    _rule(
        "scm-eqc2",
        "?c1 owl:equivalentClass ?c2 .",
        "?c1 rdfs:subClassOf ?c2 . ?c2 rdfs:subClassOf ?c1 .",
        "?c1 rdfs:subClassOf ?c2 .",
    ),
    _rule(
        "scm-op-dp",
        "?p rdfs:subPropertyOf ?p . ?p owl:equivalentProperty ?p .",
        "VALUES ?kind { owl:ObjectProperty owl:DatatypeProperty rdf:Property } ?p a ?kind .",
        "VALUES ?kind { owl:ObjectProperty owl:DatatypeProperty rdf:Property } ?p a ?kind .",
    ),
    _rule(
        "scm-spo",
        "?p1 rdfs:subPropertyOf ?p3 .",
        "?p1 rdfs:subPropertyOf ?p2 . FILTER(!sameTerm(?p1, ?p2)) "
        "?p2 rdfs:subPropertyOf+ ?p3 . FILTER(!sameTerm(?p1, ?p3))",
        "?p1 rdfs:subPropertyOf ?p2 .",
    ),
    _rule(
        "scm-eqp1",
        "?p1 rdfs:subPropertyOf ?p2 . ?p2 rdfs:subPropertyOf ?p1 .",
        "?p1 owl:equivalentProperty ?p2 . FILTER(!sameTerm(?p1, ?p2))",
        "?p1 owl:equivalentProperty ?p2 .",
    ),
    _rule(
        "scm-eqp2",
        "?p1 owl:equivalentProperty ?p2 .",
        "?p1 rdfs:subPropertyOf ?p2 . FILTER(!sameTerm(?p1, ?p2)) ?p2 rdfs:subPropertyOf ?p1 .",
        "?p1 rdfs:subPropertyOf ?p2 .",
    ),
    _rule(
        "scm-dom1",
        "?p rdfs:domain ?c2 .",
        "?p rdfs:domain ?c1 . ?c1 rdfs:subClassOf ?c2 . FILTER(!sameTerm(?c1, ?c2))",
        "?p rdfs:domain ?c1 .",
    ),
    _rule(
        "scm-dom2",
        "?p1 rdfs:domain ?c .",
        "?p2 rdfs:domain ?c . ?p1 rdfs:subPropertyOf ?p2 . FILTER(!sameTerm(?p1, ?p2))",
        "?p rdfs:domain ?c .",
    ),
    _rule(
        "scm-rng1",
        "?p rdfs:range ?c2 .",
        "?p rdfs:range ?c1 . ?c1 rdfs:subClassOf ?c2 . FILTER(!sameTerm(?c1, ?c2))",
        "?p rdfs:range ?c1 .",
    ),
    _rule(
        "scm-rng2",
        "?p1 rdfs:range ?c .",
        "?p2 rdfs:range ?c . ?p1 rdfs:subPropertyOf ?p2 . FILTER(!sameTerm(?p1, ?p2))",
        "?p rdfs:range ?c .",
    ),
    _rule(
        "scm-hv",
        "?c1 rdfs:subClassOf ?c2 .",
        "?c1 owl:hasValue ?i ; owl:onProperty ?p1 . ?c2 owl:hasValue ?i ; owl:onProperty ?p2 . "
        "?p1 rdfs:subPropertyOf ?p2 .",
        "?c owl:hasValue ?i .",
    ),
    _rule(
        "scm-svf1",
        "?c1 rdfs:subClassOf ?c2 .",
        "?c1 owl:someValuesFrom ?y1 ; owl:onProperty ?p . "
        "?c2 owl:someValuesFrom ?y2 ; owl:onProperty ?p . ?y1 rdfs:subClassOf ?y2 .",
        "?c owl:someValuesFrom ?y .",
    ),
    _rule(
        "scm-svf2",
        "?c1 rdfs:subClassOf ?c2 .",
        "?c1 owl:someValuesFrom ?y ; owl:onProperty ?p1 . "
        "?c2 owl:someValuesFrom ?y ; owl:onProperty ?p2 . ?p1 rdfs:subPropertyOf ?p2 .",
        "?c owl:someValuesFrom ?y .",
    ),
    _rule(
        "scm-avf1",
        "?c1 rdfs:subClassOf ?c2 .",
        "?c1 owl:allValuesFrom ?y1 ; owl:onProperty ?p . "
        "?c2 owl:allValuesFrom ?y2 ; owl:onProperty ?p . ?y1 rdfs:subClassOf ?y2 .",
        "?c owl:allValuesFrom ?y .",
    ),
    _rule(
        "scm-avf2",
        "?c2 rdfs:subClassOf ?c1 .",
        "?c1 owl:allValuesFrom ?y ; owl:onProperty ?p1 . "
        "?c2 owl:allValuesFrom ?y ; owl:onProperty ?p2 . ?p1 rdfs:subPropertyOf ?p2 .",
        "?c owl:allValuesFrom ?y .",
    ),
    _rule(
        "scm-int",
        "?c rdfs:subClassOf ?ci .",
        f"?c owl:intersectionOf/{_LIST_MEMBER} ?ci .",
        "?c owl:intersectionOf ?list .",
    ),
    _rule(
        "scm-uni",
        "?ci rdfs:subClassOf ?c .",
        f"?c owl:unionOf/{_LIST_MEMBER} ?ci .",
        "?c owl:unionOf ?list .",
    ),
)


@dataclass(frozen=True)
class DataRule:
    """A rule on the data: a SELECT of distinct bindings and the triple they make.

    The engine inserts from Python: a round must know which triples it added
    (the next round works on those), which an update does not tell. Most rules
    derive each triple many times over (every property of an engagement gives
    its domain), so bindings are made distinct in the query and checked against
    the closure before they are inserted.
    """

    name: str
    select: str  # every binding, distinct
    select_new: str  # only bindings whose triple the queried store lacks
    template: tuple[str | ox.NamedNode, str | ox.NamedNode, str | ox.NamedNode]
    guard: str


def _template_term(token: str) -> str | ox.NamedNode:
    if token.startswith("?"):
        return token[1:]
    if token == "a":
        return ox.NamedNode(RDF + "type")
    if token.startswith("<") and token.endswith(">"):
        return ox.NamedNode(token[1:-1])
    prefix, _, local = token.partition(":")
    return ox.NamedNode({"rdf": RDF, "rdfs": RDFS, "owl": OWL}[prefix] + local)


def _data_rule(
    name: str, insert: str, where: str, guard: str = "", *, anti_join: bool = False
) -> DataRule:
    """``anti_join``: leave out what the store holds with MINUS, which reads every
    triple matching the template once, instead of one lookup per row (FILTER NOT
    EXISTS): cheaper when the template has a fixed predicate, as a row's lookup
    walks all the triples of its subject."""
    tokens = insert.strip().rstrip(".").split()
    if len(tokens) != 3:
        raise ValueError(f"{name}: a data rule makes exactly one triple, not {insert!r}")
    variables = " ".join(dict.fromkeys(t for t in tokens if t.startswith("?")))
    select = f"SELECT DISTINCT {variables} WHERE {{ {where} }}"
    leave_out = "MINUS" if anti_join else "FILTER NOT EXISTS"
    return DataRule(
        name=name,
        select=_PREFIXES + select,
        select_new=f"{_PREFIXES}SELECT * WHERE {{ {{ {select} }} "
        f"{leave_out} {{ {' '.join(tokens)} }} }}",
        template=tuple(_template_term(t) for t in tokens),  # type: ignore[arg-type]
        guard=f"{_PREFIXES}ASK {{ {guard} }}" if guard else "",
    )


def _delta_rule(name: str, insert: str, schema: str, atom: str, guard: str) -> DataRule:
    """A rule with one data atom: evaluated on the schema plus last round's additions."""
    return _data_rule(name, insert, f"{schema} {atom}", guard)


def _join_rule(name: str, insert: str, where: str, guard: str) -> DataRule:
    """A rule joining several data atoms: evaluated over the whole closure."""
    return _data_rule(name, insert, where, guard)


# Tables 5–7 on the data, rules with one data atom: properties, classes, class axioms.
DELTA_RULES: tuple[DataRule, ...] = (
    _delta_rule(
        "prp-spo1",
        "?x ?p2 ?y .",
        "?p1 rdfs:subPropertyOf ?p2 . FILTER(!sameTerm(?p1, ?p2))",
        "?x ?p1 ?y .",
        "?p1 rdfs:subPropertyOf ?p2 . FILTER(!sameTerm(?p1, ?p2))",
    ),
    _delta_rule(
        "prp-eqp",
        "?x ?p2 ?y .",
        "{ ?p1 owl:equivalentProperty ?p2 } UNION { ?p2 owl:equivalentProperty ?p1 } "
        "FILTER(!sameTerm(?p1, ?p2))",
        "?x ?p1 ?y .",
        "?p1 owl:equivalentProperty ?p2 . FILTER(!sameTerm(?p1, ?p2))",
    ),
    _delta_rule(
        "prp-inv1",
        "?y ?p2 ?x .",
        "?p1 owl:inverseOf ?p2 .",
        "?x ?p1 ?y .",
        "?p1 owl:inverseOf ?p2 .",
    ),
    _delta_rule(
        "prp-inv2",
        "?y ?p1 ?x .",
        "?p1 owl:inverseOf ?p2 .",
        "?x ?p2 ?y .",
        "?p1 owl:inverseOf ?p2 .",
    ),
    _delta_rule(
        "prp-symp",
        "?y ?p ?x .",
        "?p a owl:SymmetricProperty .",
        "?x ?p ?y .",
        "?p a owl:SymmetricProperty .",
    ),
    _delta_rule("prp-dom", "?x a ?c .", "?p rdfs:domain ?c .", "?x ?p ?y .", "?p rdfs:domain ?c ."),
    _delta_rule(
        "prp-rng",
        "?y a ?c .",
        "?p rdfs:range ?c .",
        "?x ?p ?y . FILTER(!isLiteral(?y))",
        "?p rdfs:range ?c .",
    ),
    _delta_rule(
        "cls-hv1",
        "?u ?p ?y .",
        "?x owl:hasValue ?y ; owl:onProperty ?p .",
        "?u a ?x .",
        "?x owl:hasValue ?y .",
    ),
    _delta_rule(
        "cls-hv2",
        "?u a ?x .",
        "?x owl:hasValue ?y ; owl:onProperty ?p .",
        "?u ?p ?y .",
        "?x owl:hasValue ?y .",
    ),
    _delta_rule(
        "cls-int2",
        "?u a ?ci .",
        f"?c owl:intersectionOf/{_LIST_MEMBER} ?ci .",
        "?u a ?c .",
        "?c owl:intersectionOf ?list .",
    ),
    _delta_rule(
        "cls-uni",
        "?u a ?c .",
        f"?c owl:unionOf/{_LIST_MEMBER} ?ci .",
        "?u a ?ci .",
        "?c owl:unionOf ?list .",
    ),
    _delta_rule(
        "cax-sco",
        "?x a ?c2 .",
        "?c1 rdfs:subClassOf ?c2 . FILTER(!sameTerm(?c1, ?c2))",
        "?x a ?c1 .",
        "?c1 rdfs:subClassOf ?c2 . FILTER(!sameTerm(?c1, ?c2))",
    ),
    _delta_rule(
        "cax-eqc",
        "?x a ?c2 .",
        "{ ?c1 owl:equivalentClass ?c2 } UNION { ?c2 owl:equivalentClass ?c1 } "
        "FILTER(!sameTerm(?c1, ?c2))",
        "?x a ?c1 .",
        "?c1 owl:equivalentClass ?c2 . FILTER(!sameTerm(?c1, ?c2))",
    ),
)

# What the compiled pass (see _compiled_pass) does not cover among the one-atom rules.
UNCOMPILED_DELTA_RULES = tuple(
    rule for rule in DELTA_RULES if rule.name in {"cls-hv1", "cls-hv2", "cls-int2", "cls-uni"}
)

# Rules with several data atoms (or none): evaluated over the whole closure each round.
JOIN_RULES: tuple[DataRule, ...] = (
    _join_rule(
        "cls-svf",
        "?u a ?x .",
        "?x owl:someValuesFrom ?y ; owl:onProperty ?p . ?u ?p ?v . "
        "FILTER(sameTerm(?y, owl:Thing) || EXISTS { ?v a ?y })",
        "?x owl:someValuesFrom ?y .",
    ),
    _join_rule(
        "cls-avf",
        "?v a ?y .",
        "?x owl:allValuesFrom ?y ; owl:onProperty ?p . ?u a ?x ; ?p ?v . FILTER(!isLiteral(?v))",
        "?x owl:allValuesFrom ?y .",
    ),
    _join_rule(
        "cls-int1",
        "?y a ?c .",
        "?c owl:intersectionOf ?list . ?list rdf:first ?first . ?y a ?first . "
        f"FILTER NOT EXISTS {{ ?list {_LIST_MEMBER} ?ci . FILTER NOT EXISTS {{ ?y a ?ci }} }}",
        "?c owl:intersectionOf ?list .",
    ),
    _join_rule(
        "cls-oo",
        "?y a ?c .",
        f"?c owl:oneOf/{_LIST_MEMBER} ?y .",
        "?c owl:oneOf ?list .",
    ),
    _join_rule(
        "prp-fp",
        "?y1 owl:sameAs ?y2 .",
        "?p a owl:FunctionalProperty . ?x ?p ?y1, ?y2 . FILTER(!sameTerm(?y1, ?y2))",
        "?p a owl:FunctionalProperty .",
    ),
    _join_rule(
        "prp-ifp",
        "?x1 owl:sameAs ?x2 .",
        "?p a owl:InverseFunctionalProperty . ?x1 ?p ?y . ?x2 ?p ?y . FILTER(!sameTerm(?x1, ?x2))",
        "?p a owl:InverseFunctionalProperty .",
    ),
    _join_rule(
        "cls-maxc2",
        "?y1 owl:sameAs ?y2 .",
        "?x owl:maxCardinality ?n ; owl:onProperty ?p . FILTER(?n = 1) "
        "?u a ?x ; ?p ?y1, ?y2 . FILTER(!sameTerm(?y1, ?y2))",
        "?x owl:maxCardinality ?n .",
    ),
    _join_rule(
        "cls-maxqc3-4",
        "?y1 owl:sameAs ?y2 .",
        "?x owl:maxQualifiedCardinality ?n ; owl:onProperty ?p ; owl:onClass ?c . FILTER(?n = 1) "
        "?u a ?x ; ?p ?y1, ?y2 . FILTER(!sameTerm(?y1, ?y2)) "
        "FILTER(sameTerm(?c, owl:Thing) || EXISTS { ?y1 a ?c . ?y2 a ?c })",
        "?x owl:maxQualifiedCardinality ?n .",
    ),
)

# Table 4: equality. Run only when the store holds an owl:sameAs between two terms.
EQUALITY_RULES: tuple[DataRule, ...] = (
    _join_rule(
        "eq-sym",
        "?y owl:sameAs ?x .",
        "?x owl:sameAs ?y . FILTER(!sameTerm(?x, ?y))",
        "?x owl:sameAs ?y . FILTER(!sameTerm(?x, ?y))",
    ),
    _join_rule(
        "eq-trans",
        "?x owl:sameAs ?z .",
        "?x owl:sameAs ?y . FILTER(!sameTerm(?x, ?y)) ?y owl:sameAs+ ?z . "
        "FILTER(!sameTerm(?x, ?z))",
        "?x owl:sameAs ?y . FILTER(!sameTerm(?x, ?y))",
    ),
    _join_rule(
        "eq-rep-s",
        "?s2 ?p ?o .",
        "?s owl:sameAs ?s2 . FILTER(!sameTerm(?s, ?s2)) ?s ?p ?o .",
        "?x owl:sameAs ?y . FILTER(!sameTerm(?x, ?y))",
    ),
    _join_rule(
        "eq-rep-p",
        "?s ?p2 ?o .",
        "?p owl:sameAs ?p2 . FILTER(!sameTerm(?p, ?p2)) ?s ?p ?o .",
        "?x owl:sameAs ?y . FILTER(!sameTerm(?x, ?y))",
    ),
    _join_rule(
        "eq-rep-o",
        "?s ?p ?o2 .",
        "?o owl:sameAs ?o2 . FILTER(!sameTerm(?o, ?o2)) ?s ?p ?o .",
        "?x owl:sameAs ?y . FILTER(!sameTerm(?x, ?y))",
    ),
)


def _iri(term: ox.NamedNode | ox.BlankNode) -> str:
    return str(term)


def _list_members(store: ox.Store, head: ox.NamedNode | ox.BlankNode) -> list[ox.Term]:
    members: list[ox.Term] = []
    node: ox.Term = head
    first, rest, nil = (
        ox.NamedNode(RDF + "first"),
        ox.NamedNode(RDF + "rest"),
        ox.NamedNode(RDF + "nil"),
    )
    seen: set[ox.Term] = set()
    while node != nil and node not in seen and not isinstance(node, ox.Literal):
        seen.add(node)
        values = [q.object for q in store.quads_for_pattern(node, first, None, ox.DefaultGraph())]
        members.extend(values[:1])
        following = [q.object for q in store.quads_for_pattern(node, rest, None, ox.DefaultGraph())]
        if not following:
            break
        node = following[0]
    return members


def _transitive_closure(successors: dict[ox.Term, set[ox.Term]]) -> dict[ox.Term, set[ox.Term]]:
    """Everything each node reaches in one or more steps (Tarjan's SCCs, sinks first).

    Computed in Python rather than as a SPARQL path or a self-join: pyoxigraph
    evaluates `p+` from every start node afresh, and a self-join re-derives every
    path at every step; here each strongly connected component is visited once.
    """
    index: dict[ox.Term, int] = {}
    low: dict[ox.Term, int] = {}
    on_stack: set[ox.Term] = set()
    stack: list[ox.Term] = []
    component_of: dict[ox.Term, int] = {}
    components: list[list[ox.Term]] = []
    reach: list[set[ox.Term]] = []
    for root in list(successors):
        if root in index:
            continue
        work: list[tuple[ox.Term, Iterator[ox.Term]]] = [(root, iter(successors.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members: list[ox.Term] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component_of[member] = len(components)
                    members.append(member)
                    if member == node:
                        break
                reached: set[ox.Term] = set()
                cyclic = len(members) > 1 or node in successors.get(node, ())
                if cyclic:
                    reached.update(members)
                for member in members:
                    for child in successors.get(member, ()):
                        target = component_of[child]
                        if target != len(components):
                            reached.update(components[target])
                            reached |= reach[target]
                components.append(members)
                reach.append(reached)
    return {node: reach[component_of[node]] for node in successors}


def _transitive_additions(store: ox.Store, prop: ox.NamedNode) -> Iterator[ox.Quad]:
    """prp-trp for one property: the triples its closure adds."""
    successors: dict[ox.Term, set[ox.Term]] = {}
    for quad in store.quads_for_pattern(None, prop, None, ox.DefaultGraph()):
        successors.setdefault(quad.subject, set()).add(quad.object)
    for node, targets in _transitive_closure(successors).items():
        for target in targets - successors[node]:
            yield ox.Quad(node, prop, target, ox.DefaultGraph())


def _transitive_properties(store: ox.Store) -> list[ox.NamedNode]:
    rdf_type = ox.NamedNode(RDF + "type")
    transitive = ox.NamedNode(OWL + "TransitiveProperty")
    return [
        quad.subject
        for quad in store.quads_for_pattern(None, rdf_type, transitive, ox.DefaultGraph())
        if isinstance(quad.subject, ox.NamedNode)
    ]


def property_chains(store: ox.Store) -> list[tuple[ox.NamedNode, list[ox.Term]]]:
    """Each ``owl:propertyChainAxiom`` of the schema: the property and its steps."""
    chains = []
    axiom = ox.NamedNode(OWL + "propertyChainAxiom")
    for quad in store.quads_for_pattern(None, axiom, None, ox.DefaultGraph()):
        chain = _list_members(store, quad.object)
        if isinstance(quad.subject, ox.NamedNode) and chain:
            chains.append((quad.subject, chain))
    return chains


def _specialised_rules(store: ox.Store) -> list[tuple[DataRule, frozenset[ox.Term]]]:
    """Rules generated per property or class from the schema as it stands now, each
    with the predicates of the data triples it reads."""
    rules: list[tuple[DataRule, frozenset[ox.Term]]] = []
    for subject, chain in property_chains(store):
        if all(isinstance(p, ox.NamedNode) for p in chain):
            # The chain x p1 m1, m1 p2 m2, …, as a join of one subquery per step: each
            # reads its property once and they are hash-joined. The path p1/p2 looks up
            # each middle node's triples instead, which the closure makes many.
            nodes = ["?x", *(f"?m{i}" for i in range(1, len(chain))), "?z"]
            steps = " ".join(
                f"{{ SELECT {a} {b} WHERE {{ {a} {_iri(p)} {b} }} }}"  # type: ignore[arg-type]
                for a, p, b in zip(nodes[:-1], chain, nodes[1:], strict=True)
            )
            target = _iri(subject)
            rule = _data_rule(f"prp-spo2 {target}", f"?x {target} ?z .", steps, anti_join=True)
            rules.append((rule, frozenset(chain)))
    key = ox.NamedNode(OWL + "hasKey")
    for quad in store.quads_for_pattern(None, key, None, ox.DefaultGraph()):
        properties = _list_members(store, quad.object)
        if (
            isinstance(quad.subject, ox.NamedNode)
            and properties
            and all(isinstance(p, ox.NamedNode) for p in properties)
        ):
            target = str(quad.subject)
            values = " ".join(f"?x {p} ?z{i} . ?y {p} ?z{i} ." for i, p in enumerate(properties))
            rule = _data_rule(
                f"prp-key {target}",
                "?x owl:sameAs ?y .",
                f"?x a {target} . ?y a {target} . FILTER(!sameTerm(?x, ?y)) {values}",
            )
            rules.append((rule, frozenset((_RDF_TYPE, *properties))))
    return rules


def _one_time_triples(store: ox.Store) -> tuple[list[ox.Quad], int]:
    """owlrl's one-time rules: cls-thing, cls-nothing1, prp-ap and the dt-* rules; and
    how many triples the default graph holds, which the scan they need counts."""
    graph = ox.DefaultGraph()
    rdf_type = ox.NamedNode(RDF + "type")
    owl_class = ox.NamedNode(OWL + "Class")
    datatype = ox.NamedNode(RDFS + "Datatype")
    quads = [
        ox.Quad(ox.NamedNode(OWL + "Thing"), rdf_type, owl_class, graph),
        ox.Quad(ox.NamedNode(OWL + "Nothing"), rdf_type, owl_class, graph),
    ]
    quads += [
        ox.Quad(ox.NamedNode(str(p)), rdf_type, ox.NamedNode(OWL + "AnnotationProperty"), graph)
        for p in OWLRL_Annotation_properties
    ]
    rl_datatypes = {str(dt) for dt in OWL_RL_Datatypes}
    quads += [ox.Quad(ox.NamedNode(dt), rdf_type, datatype, graph) for dt in rl_datatypes]
    used: set[str] = set()
    # dt-type2 types literals (literal subjects: dropped), but it also records which
    # datatypes are used, which decides the datatype subsumption and disjointness triples.
    # Reading every triple for it, the scan counts them too (a second walk over a store
    # of millions of triples costs seconds). DATATYPE of a non-literal is unbound.
    size = 0
    for dt, count in store.query(
        "SELECT ?dt (COUNT(*) AS ?n) WHERE { ?s ?p ?o BIND(DATATYPE(?o) AS ?dt) } GROUP BY ?dt"
    ):
        size += int(count.value)
        if dt is not None and dt.value in rl_datatypes:
            used.add(dt.value)
    explicitly_typed: list[tuple[ox.Term, str]] = []
    # Asked per datatype, not read from every rdf:type triple of the store in Python.
    datatypes = " ".join(f"<{dt}>" for dt in sorted(rl_datatypes))
    for subject, dt in store.query(
        f"SELECT ?s ?dt WHERE {{ VALUES ?dt {{ {datatypes} }} ?s <{RDF}type> ?dt }}"
    ):
        if not isinstance(subject, ox.Literal):
            used.add(dt.value)
            explicitly_typed.append((subject, dt.value))
    subsumptions = {str(k): [str(v) for v in vs] for k, vs in OWL_Datatype_Subsumptions.items()}
    for subject, dt in explicitly_typed:
        for wider in subsumptions.get(dt, []):
            quads.append(ox.Quad(subject, rdf_type, ox.NamedNode(wider), graph))
            used.add(wider)
    for dt in list(used):
        for wider in subsumptions.get(dt, []):
            quads.append(ox.Quad(ox.NamedNode(wider), rdf_type, datatype, graph))
            used.add(wider)
    for left, predicate, right in OWLRL_Datatypes_Disjointness:
        if str(left) in used and str(right) in used:
            quads.append(
                ox.Quad(
                    ox.NamedNode(str(left)),
                    ox.NamedNode(str(predicate)),
                    ox.NamedNode(str(right)),
                    graph,
                )
            )
    return quads, size


@dataclass
class ReasoningReport:
    """What a run did: rounds, triples before and after, seconds per rule."""

    rounds: int = 0
    asserted: int = 0
    closure: int = 0
    seconds: float = 0.0
    rule_seconds: dict[str, float] = field(default_factory=dict)


def _run(store: ox.Store, rules: Iterable[Rule], report: ReasoningReport) -> None:
    for rule in rules:
        if rule.guard and not store.query(rule.guard):
            continue
        started = time.perf_counter()
        store.update(rule.update)
        _timed(report, rule.name, started)


def _derive(
    source: ox.Store,
    closure: ox.Store,
    rules: Iterable[DataRule],
    new: set[ox.Quad],
    report: ReasoningReport,
) -> None:
    """Evaluate ``rules`` on ``source``; add to ``new`` what ``closure`` lacks (as
    default-graph quads, ready to insert: a pyoxigraph term object costs microseconds)."""
    graph = ox.DefaultGraph()
    for rule in rules:
        if rule.guard and not closure.query(rule.guard):
            continue
        started = time.perf_counter()
        s, p, o = rule.template
        # Asking the closure itself, the query can leave out what it already holds.
        known_filtered = source is closure
        for row in source.query(rule.select_new if known_filtered else rule.select):
            subject = row[s] if isinstance(s, str) else s
            if isinstance(subject, ox.Literal):
                continue  # RDF 1.1 has no literal subjects
            predicate = row[p] if isinstance(p, str) else p
            if not isinstance(predicate, ox.NamedNode):
                continue  # nor blank-node predicates
            obj = row[o] if isinstance(o, str) else o
            quad = ox.Quad(subject, predicate, obj, graph)
            if known_filtered or quad not in closure:
                new.add(quad)
        _timed(report, rule.name.split(" ", 1)[0], started)


def _timed(report: ReasoningReport, family: str, started: float) -> None:
    report.rule_seconds[family] = (
        report.rule_seconds.get(family, 0.0) + time.perf_counter() - started
    )


def _size(store: ox.Store) -> int:
    return len(store)


_SCHEMA_PREDICATES = frozenset(
    (
        *(RDFS + n for n in ("subClassOf", "subPropertyOf", "domain", "range")),
        *(
            OWL + n
            for n in [
                "equivalentClass",
                "equivalentProperty",
                "inverseOf",
                "onProperty",
                "hasValue",
                "someValuesFrom",
                "allValuesFrom",
                "intersectionOf",
                "unionOf",
                "oneOf",
                "propertyChainAxiom",
                "hasKey",
                "maxCardinality",
                "maxQualifiedCardinality",
                "onClass",
            ]
        ),
        RDF + "first",
        RDF + "rest",
    )
)
_META_CLASSES = frozenset(
    (
        *(
            OWL + n
            for n in [
                "Class",
                "ObjectProperty",
                "DatatypeProperty",
                "TransitiveProperty",
                "SymmetricProperty",
                "FunctionalProperty",
                "InverseFunctionalProperty",
                "Restriction",
            ]
        ),
        RDF + "Property",
    )
)


def _is_schema(triple: ox.Triple | ox.Quad) -> bool:
    predicate = triple.predicate.value
    if predicate in _SCHEMA_PREDICATES:
        return True
    return predicate == RDF + "type" and getattr(triple.object, "value", "") in _META_CLASSES


def _close_schema(store: ox.Store, report: ReasoningReport) -> list[ox.Quad]:
    """Close the schema in place; return it (every schema triple) for the delta stores.

    The schema rules only ever add schema triples, so the schema's size (a few
    hundred triples, read from the index) tells when they are done; the store's
    own size would cost a walk over every triple of the closure each time.
    """
    schema = _schema_quads(store)
    while True:
        _run(store, SCHEMA_RULES, report)
        closed = _schema_quads(store)
        if len(closed) == len(schema):
            return closed
        schema = closed


def _schema_quads(store: ox.Store) -> list[ox.Quad]:
    """Every schema triple of the store (see _is_schema)."""
    schema: list[ox.Quad] = []
    for predicate in _SCHEMA_PREDICATES:
        schema.extend(
            store.quads_for_pattern(None, ox.NamedNode(predicate), None, ox.DefaultGraph())
        )
    rdf_type = ox.NamedNode(RDF + "type")
    for meta in _META_CLASSES:
        schema.extend(
            store.quads_for_pattern(None, rdf_type, ox.NamedNode(meta), ox.DefaultGraph())
        )
    return schema


_RDF_TYPE = ox.NamedNode(RDF + "type")
_Abstract = tuple[object, ox.NamedNode, object]  # subject/object: "S", "O" or a constant


class _Schema:
    """The closed schema, read once, as the single-atom rules need it."""

    def __init__(self, store: ox.Store) -> None:
        def pairs(predicate: str) -> list[tuple[ox.Term, ox.Term]]:
            return [
                (q.subject, q.object)
                for q in store.quads_for_pattern(
                    None, ox.NamedNode(predicate), None, ox.DefaultGraph()
                )
            ]

        self.super_properties: dict[ox.Term, set[ox.Term]] = defaultdict(set)
        for a, b in pairs(RDFS + "subPropertyOf"):
            self.super_properties[a].add(b)
        for a, b in pairs(OWL + "equivalentProperty"):
            self.super_properties[a].add(b)
            self.super_properties[b].add(a)
        self.inverses: dict[ox.Term, set[ox.Term]] = defaultdict(set)
        for a, b in pairs(OWL + "inverseOf"):
            self.inverses[a].add(b)
            self.inverses[b].add(a)
        self.symmetric = {
            q.subject
            for q in store.quads_for_pattern(
                None, _RDF_TYPE, ox.NamedNode(OWL + "SymmetricProperty"), ox.DefaultGraph()
            )
        }
        self.domains: dict[ox.Term, set[ox.Term]] = defaultdict(set)
        for a, b in pairs(RDFS + "domain"):
            self.domains[a].add(b)
        self.ranges: dict[ox.Term, set[ox.Term]] = defaultdict(set)
        for a, b in pairs(RDFS + "range"):
            self.ranges[a].add(b)
        self.super_classes: dict[ox.Term, set[ox.Term]] = defaultdict(set)
        for a, b in pairs(RDFS + "subClassOf"):
            if a != b:
                self.super_classes[a].add(b)
        for a, b in pairs(OWL + "equivalentClass"):
            if a != b:
                self.super_classes[a].add(b)
                self.super_classes[b].add(a)

    def consequences(self, start: _Abstract) -> set[_Abstract]:
        """Everything prp-spo1/eqp/inv/symp/dom/rng and cax-sco/eqc derive from one triple."""
        found = {start}
        work = [start]
        while work:
            x, q, y = work.pop()
            derived: list[_Abstract] = [(x, r, y) for r in self.super_properties.get(q, ())]
            derived += [(y, r, x) for r in self.inverses.get(q, ())]
            if q in self.symmetric:
                derived.append((y, q, x))
            derived += [(x, _RDF_TYPE, c) for c in self.domains.get(q, ())]
            derived += [(y, _RDF_TYPE, c) for c in self.ranges.get(q, ())]
            if q == _RDF_TYPE:
                derived += [(x, _RDF_TYPE, c) for c in self.super_classes.get(y, ())]
            for triple in derived:
                if triple not in found and not isinstance(triple[0], ox.NamedNode):
                    found.add(triple)
                    work.append(triple)
        return found

    def _property_keys(self) -> set[ox.Term]:
        return {
            *self.super_properties,
            *self.inverses,
            *self.symmetric,
            *self.domains,
            *self.ranges,
        }

    def derives_as(self, other: _Schema) -> bool:
        """Whether the two schemas give every triple the same consequences.

        A triple whose predicate (or, for a type, whose class) no schema mentions
        has no consequences under either, so comparing the consequences of the
        terms the schemas mention compares them on every triple. An added
        ``p rdfs:subPropertyOf p`` or ``A rdfs:subClassOf C`` under ``A ⊑ B ⊑ C``
        changes the schema but not what it derives.
        """
        properties = self._property_keys() | other._property_keys()
        if _RDF_TYPE in properties:
            return False  # a type's consequences would then depend on every class
        classes = {*self.super_classes, *other.super_classes}
        starts: list[_Abstract] = [("S", p, "O") for p in properties if isinstance(p, ox.NamedNode)]
        starts += [("S", _RDF_TYPE, c) for c in classes]
        return all(self.consequences(start) == other.consequences(start) for start in starts)


def _has(store: ox.Store, predicate: ox.NamedNode, obj: ox.Term | None = None) -> bool:
    """Whether the default graph holds a triple ``?s predicate obj`` (one index step)."""
    quads = store.quads_for_pattern(None, predicate, obj, ox.DefaultGraph())
    return next(iter(quads), None) is not None


def _used_terms(store: ox.Store, schema: _Schema) -> tuple[list[ox.Term], list[ox.Term]]:
    """The store's predicates and classes that the schema gives any consequence.

    Others derive nothing, so they are left out rather than found by a scan of
    every triple: each candidate the schema names is looked up in the index.
    """
    predicates = [
        p for p in schema._property_keys() if isinstance(p, ox.NamedNode) and _has(store, p)
    ]
    if _RDF_TYPE in predicates:  # then every class has consequences
        query = f"SELECT DISTINCT ?c WHERE {{ ?s <{RDF}type> ?c }}"
        return predicates, [row["c"] for row in store.query(query)]
    return predicates, [c for c in schema.super_classes if _has(store, _RDF_TYPE, c)]


def _compiled_pass(
    store: ox.Store, schema: _Schema, report: ReasoningReport, family: str = "compiled"
) -> bool:
    """Close the whole store under the single-atom property and class rules at once.

    The rules are compiled against the schema: for each class D, one update finds
    every node that some triple makes a D (through any chain of sub-properties,
    inverses, domains, ranges and super-classes); for each property q, one update
    finds every pair that must be related by q. Each inferred triple is so
    produced once, with no rounds. The updates insert every such triple and let
    the store's set semantics drop those it holds: a FILTER NOT EXISTS against the
    closure costs more than the insert it saves. Returns False (doing nothing)
    when the schema needs a form the compilation does not cover. ``schema`` is
    the closed schema (the store may hold only part of the data: see close_store).
    """
    begun = time.perf_counter()
    predicates, classes = _used_terms(store, schema)
    type_sources: dict[ox.Term, set[tuple[str, ox.Term]]] = defaultdict(set)
    property_sources: dict[ox.Term, set[tuple[str, ox.Term]]] = defaultdict(set)
    starts: list[_Abstract] = [("S", p, "O") for p in predicates if p != _RDF_TYPE]
    starts += [("S", _RDF_TYPE, c) for c in classes if isinstance(c, ox.NamedNode)]
    for start in starts:
        derived_types: dict[str, set[ox.Term]] = defaultdict(set)
        for x, q, y in schema.consequences(start):
            if (x, q, y) == start:
                continue
            if q == _RDF_TYPE and isinstance(y, ox.NamedNode | ox.BlankNode) and x in ("S", "O"):
                derived_types[x].add(y)  # type: ignore[index]
            elif q != _RDF_TYPE and {x, y} == {"S", "O"} and start[1] != _RDF_TYPE:
                property_sources[q].add(("forward" if x == "S" else "inverse", start[1]))
            else:
                return False
        if start[1] == _RDF_TYPE:
            continue  # a type's super-classes come from the (type, C) sources below
        for x, types in derived_types.items():
            side = "subject" if x == "S" else "object"
            for target in types:
                strictly_below = any(
                    target in schema.super_classes.get(other, ())
                    and other not in schema.super_classes.get(target, ())
                    for other in types
                    if other != target
                )
                if not strictly_below:
                    type_sources[target].add((side, start[1]))
    # A class's instances include those of its sub-classes, computed before it.
    known_classes = set(classes) | set(type_sources)
    for sub in known_classes:
        for target in schema.super_classes.get(sub, ()):
            if target != sub:
                type_sources[target].add(("type", sub))
    order = graphlib.TopologicalSorter(
        {
            target: [
                t
                for t in type_sources
                if target in schema.super_classes.get(t, ())
                and t not in schema.super_classes.get(target, ())
            ]
            for target in type_sources
        }
    )
    type_targets = list(order.static_order())
    _timed(report, "compile", begun)
    for target in type_targets:
        begun = time.perf_counter()
        _insert_types(store, target, type_sources[target])
        _timed(report, f"{family}-types", begun)
    for target, sources in property_sources.items():
        if not isinstance(target, ox.NamedNode):
            continue  # no triple has a blank-node predicate
        begun = time.perf_counter()
        branches = []
        forward = " ".join(str(t) for k, t in sources if k == "forward")
        inverse = " ".join(str(t) for k, t in sources if k == "inverse")
        if forward:
            branches.append(f"{{ VALUES ?p {{ {forward} }} ?x ?p ?y }}")
        if inverse:
            branches.append(f"{{ VALUES ?p {{ {inverse} }} ?y ?p ?x FILTER(!isLiteral(?x)) }}")
        # One source property gives each pair once; several may give it again.
        _insert(store, f"?x {target} ?y", branches, "?x ?y" if len(sources) > 1 else "")
        _timed(report, f"{family}-properties", begun)
    return True


def _insert_types(store: ox.Store, target: ox.Term, sources: set[tuple[str, ox.Term]]) -> None:
    """Type as ``target`` every node the sources give: subjects of a ``subject`` source
    property, non-literal objects of an ``object`` one, instances of a ``type`` class."""
    if isinstance(target, ox.BlankNode) or any(isinstance(t, ox.BlankNode) for _, t in sources):
        # SPARQL cannot name a stored blank node (in a template it is a fresh node, in
        # VALUES an error), so these few classes are filled from the index in Python.
        graph = ox.DefaultGraph()
        nodes: set[ox.Term] = set()
        for kind, term in sources:
            if kind == "subject":
                nodes.update(q.subject for q in store.quads_for_pattern(None, term, None, graph))
            elif kind == "object":
                nodes.update(
                    q.object
                    for q in store.quads_for_pattern(None, term, None, graph)
                    if not isinstance(q.object, ox.Literal)
                )
            else:
                nodes.update(
                    q.subject for q in store.quads_for_pattern(None, _RDF_TYPE, term, graph)
                )
        store.extend(ox.Quad(node, _RDF_TYPE, target, graph) for node in nodes)  # type: ignore[arg-type]
        return
    branches = []
    for kind in ("subject", "object", "type"):
        members = " ".join(str(t) for k, t in sources if k == kind)
        if not members:
            continue
        if kind == "subject":
            branches.append(f"{{ VALUES ?p {{ {members} }} ?x ?p ?any }}")
        elif kind == "object":
            branches.append(f"{{ VALUES ?p {{ {members} }} ?any ?p ?x FILTER(!isLiteral(?x)) }}")
        else:
            branches.append(f"{{ VALUES ?c {{ {members} }} ?x <{RDF}type> ?c }}")
    # The instances of one class are distinct; a property's subjects or objects, or
    # the instances of several classes, repeat.
    single_class = len(sources) == 1 and next(iter(sources))[0] == "type"
    _insert(store, f"?x <{RDF}type> {target}", branches, "" if single_class else "?x")


def _insert(store: ox.Store, template: str, branches: list[str], distinct: str) -> None:
    """Insert ``template`` for every solution of the union of ``branches``, made
    ``distinct`` on those variables first when solutions may repeat: hashing a
    solution costs less than inserting a triple again, but is wasted when none do."""
    union = " UNION ".join(branches)
    where = f"{{ SELECT DISTINCT {distinct} WHERE {{ {union} }} }}" if distinct else union
    store.update(f"INSERT {{ {template} }} WHERE {{ {where} }}")


def close_store(store: ox.Store, *, max_rounds: int = 1000) -> ReasoningReport:
    """Extend the default graph of ``store`` in place to its OWL 2 RL closure.

    The first round closes the whole store under the rules with one data atom
    (the compiled pass). Later rounds are semi-naive: the same pass closes only
    what the previous round added, in a small store holding it and the schema,
    and the result is copied into the closure. The rules joining several data
    atoms run over the whole closure, guarded by their schema; the per-property
    ones (chains, keys, transitivity) only when a triple they read was added
    since they last ran. When a round adds schema triples the schema is closed
    again, and the next round treats the whole closure as new unless the grown
    schema derives exactly what the old one did.
    """
    started = time.perf_counter()
    one_time, size = _one_time_triples(store)
    # The scan counts the default graph; other graphs, unusual here, need a count.
    report = ReasoningReport(asserted=_size(store) if any(store.named_graphs()) else size)
    store.extend(one_time)
    schema = _close_schema(store, report)
    # The schema under which every triple but the last round's additions has had
    # its one-atom consequences derived (a full pass establishes it anew).
    basis = _Schema(store)
    full = True  # the first round's additions are everything
    schema_grew = False
    added: set[ox.Quad] = set()  # what the last round added
    # What the per-property rules need to rerun: the predicates of the triples added
    # since they last ran (after a full pass: any), and the rules run so far.
    touched: set[ox.Term] = set()
    ran: set[str] = set()

    def stale(key: str, reads: Iterable[ox.Term]) -> bool:
        if full or key not in ran or not touched.isdisjoint(reads):
            ran.add(key)
            return True
        return False

    while report.rounds < max_rounds:
        report.rounds += 1
        new: set[ox.Quad] = set()
        schema_size = len(schema)
        if full:
            if _compiled_pass(store, basis, report):
                _derive(store, store, UNCOMPILED_DELTA_RULES, new, report)
            else:
                _derive(store, store, DELTA_RULES, new, report)
        else:
            touched |= _close_additions(store, schema, basis, added, new, report)
            if schema_grew:  # the schema these read may have grown: rerun on everything
                _derive(store, store, UNCOMPILED_DELTA_RULES, new, report)
        _derive(store, store, JOIN_RULES, new, report)
        specialised = [
            rule for rule, reads in _specialised_rules(store) if stale(rule.select, reads)
        ]
        _derive(store, store, specialised, new, report)
        begun = time.perf_counter()
        for prop in _transitive_properties(store):
            # Without a path of two steps the closure adds nothing: one join in the
            # store is far cheaper than reading the property's triples into Python.
            if stale(f"prp-trp {prop}", (prop,)) and store.query(
                f"ASK {{ ?x {prop} ?y . ?y {prop} ?z }}"
            ):
                new.update(_transitive_additions(store, prop))
        _timed(report, "prp-trp", begun)
        if store.query(EQUALITY_RULES[0].guard):
            _derive(store, store, EQUALITY_RULES, new, report)
        # The compiled passes add to the store during the round, schema triples too.
        schema_grew = len(_schema_quads(store)) != schema_size or any(map(_is_schema, new))
        if not new and not schema_grew:
            break
        begun = time.perf_counter()
        store.extend(new)
        added = new
        touched = {t.predicate for t in new}
        full = False
        if schema_grew:
            schema = _close_schema(store, report)
            touched.update(q.predicate for q in schema)
            grown = _Schema(store)
            full = not grown.derives_as(basis)
            basis = grown
        _timed(report, "insert", begun)
    report.closure = _size(store)
    report.seconds = time.perf_counter() - started
    return report


def _close_additions(
    store: ox.Store,
    schema: list[ox.Quad],
    basis: _Schema,
    added: set[ox.Quad],
    new: set[ox.Quad],
    report: ReasoningReport,
) -> set[ox.Term]:
    """The semi-naive step of the one-atom rules: derive what the triples ``added``
    last round (already in ``store``) give; return the predicates of what it put
    into ``store``.

    The compiled pass closes a small store of the schema and the additions, and
    what the closure lacks of it is copied over (the filter is one hash lookup a
    triple, cheaper than reloading the lot). The rules the pass does not cover
    take one step on it, into ``new``. If the schema needs a form the pass does
    not cover, every one-atom rule takes one step instead.
    """
    graph = ox.DefaultGraph()
    delta = ox.Store()
    delta.extend(schema)
    delta.extend(added)
    if not _compiled_pass(delta, basis, report, "delta"):
        _derive(delta, store, DELTA_RULES, new, report)
        return set()
    _derive(delta, store, UNCOMPILED_DELTA_RULES, new, report)
    begun = time.perf_counter()
    fresh = [q for q in delta.quads_for_pattern(None, None, None, graph) if q not in store]
    store.extend(fresh)
    _timed(report, "insert", begun)
    return {q.predicate for q in fresh}


def closure_of(quads: Iterable[ox.Quad | ox.Triple]) -> tuple[set[ox.Triple], ReasoningReport]:
    """The OWL 2 RL closure (asserted + inferred triples) of some triples."""
    store = ox.Store()
    store.extend(ox.Quad(q.subject, q.predicate, q.object, ox.DefaultGraph()) for q in quads)
    report = close_store(store)
    return {q.triple for q in store}, report


def inferred_of(
    quads: Iterable[ox.Quad | ox.Triple],
) -> tuple[set[ox.Triple], ReasoningReport]:
    """Only the triples the closure adds to the given ones."""
    asserted = {ox.Triple(q.subject, q.predicate, q.object) for q in quads}
    closure, report = closure_of(asserted)
    return closure - asserted, report


def inferred(triples: Iterable[ox.Triple]) -> set[ox.Triple]:
    """The engine as the build calls it: the closure's triples that are not in the input."""
    return inferred_of(triples)[0]


def to_oxigraph(term: object) -> ox.Term:
    """An rdflib term as a pyoxigraph term (blank-node labels kept)."""
    from rdflib import BNode, Literal, URIRef

    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"not an RDF term: {term!r}")


def from_oxigraph(term: ox.Term) -> object:
    """A pyoxigraph term as an rdflib term."""
    from rdflib import BNode, Literal, URIRef

    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        if term.datatype.value == "http://www.w3.org/2001/XMLSchema#string":
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(term.datatype.value))
    raise TypeError(f"not an RDF term: {term!r}")


def inferred_rdflib(triples: Iterable[tuple[object, object, object]]) -> set[tuple[object, ...]]:
    """The inferred triples of an rdflib graph (or any iterable of rdflib triples)."""
    quads = (
        ox.Triple(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o))  # type: ignore[arg-type]
        for s, p, o in triples
    )
    inferred, _ = inferred_of(quads)
    return {
        (from_oxigraph(t.subject), from_oxigraph(t.predicate), from_oxigraph(t.object))
        for t in inferred
    }
