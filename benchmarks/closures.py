"""Closures of one source tree by three engines, in a comparable form.

Every engine reads the same pyoxigraph parse of the tree (so blank-node labels
agree) and its inferred triples (closure minus asserted) are reduced to the
restricted, meaningful form the build publishes, then written as sorted
N-Triples lines so closures from different processes compare by hash.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from pathlib import Path

import pyoxigraph as ox

from defence_engagements.pipeline import rules

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
OWL_THING = "http://www.w3.org/2002/07/owl#Thing"
OWL_SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
VOCABULARY = (
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://www.w3.org/2000/01/rdf-schema#",
    "http://www.w3.org/2002/07/owl#",
    "http://www.w3.org/2001/XMLSchema#",
)


def source_files(tree: Path) -> list[Path]:
    return sorted((tree / "ontology").glob("*.ttl")) + sorted((tree / "data").rglob("*.ttl"))


def load_tree(tree: Path) -> ox.Store:
    store = ox.Store()
    for path in source_files(tree):
        store.load(path=str(path), format=ox.RdfFormat.TURTLE, to_graph=ox.DefaultGraph())
    return store


def meaningful(triple: ox.Triple) -> bool:
    """Provisional restriction (replaced by the pipeline's single definition)."""
    subject = triple.subject
    if isinstance(subject, ox.Literal):
        return False
    if triple.predicate.value == OWL_SAME_AS and subject == triple.object:
        return False
    return not (isinstance(subject, ox.NamedNode) and subject.value.startswith(VOCABULARY))


def data_level(triple: ox.Triple, data_namespace: str) -> bool:
    """The triples every engine must agree on: about data entities (PERF-NOTES).

    `reasonable` also types every individual as owl:Thing, which owlrl does not
    (OWL 2 RL has no rule for it); those typings are left out of the comparison.
    """
    if triple.predicate.value == RDF_TYPE and triple.object.value == OWL_THING:
        return False
    return isinstance(triple.subject, ox.NamedNode) and triple.subject.value.startswith(
        data_namespace
    )


def as_lines(triples: Iterable[ox.Triple]) -> list[str]:
    return sorted(f"{t} ." for t in triples)


def digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def ours(store: ox.Store) -> tuple[set[ox.Triple], float]:
    asserted = {q.triple for q in store}
    started = time.perf_counter()
    rules.close_store(store)
    seconds = time.perf_counter() - started
    return {q.triple for q in store} - asserted, seconds


def owlrl_engine(store: ox.Store) -> tuple[set[ox.Triple], float]:
    import owlrl
    import rdflib

    graph = rdflib.Graph()
    for quad in store:
        graph.add(
            tuple(rules.from_oxigraph(t) for t in (quad.subject, quad.predicate, quad.object))
        )
    asserted = set(graph)
    started = time.perf_counter()
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(graph)
    seconds = time.perf_counter() - started
    return _back(set(graph) - asserted), seconds


def reasonable_engine(store: ox.Store) -> tuple[set[ox.Triple], float]:
    import rdflib
    import reasonable

    graph = rdflib.Graph()
    for quad in store:
        graph.add(
            tuple(rules.from_oxigraph(t) for t in (quad.subject, quad.predicate, quad.object))
        )
    asserted = set(graph)
    reasoner = reasonable.PyReasoner()
    started = time.perf_counter()
    reasoner.from_graph(graph)
    closure = reasoner.reason()
    seconds = time.perf_counter() - started
    return _back(closure) - _back(asserted), seconds


def _back(triples: Iterable[tuple[object, object, object]]) -> set[ox.Triple]:
    out: set[ox.Triple] = set()
    for s, p, o in triples:
        try:
            subject, predicate, obj = (rules.to_oxigraph(t) for t in (s, p, o))
            out.add(ox.Triple(subject, predicate, obj))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue  # literal subjects and other generalised triples
    return out
