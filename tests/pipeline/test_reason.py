"""Reasoning: the one restriction, and the inferred graph against owlrl on the real data."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import rdflib

from defence_engagements.namespaces import GRAPH_DATA, GRAPH_INFERRED, GRAPH_ONTOLOGY
from defence_engagements.pipeline import reason
from defence_engagements.store import open_published_build

EX = "http://example.org/"
RDF, RDFS, OWL, XSD = reason.RDF, reason.RDFS, reason.OWL, reason.XSD


def t(s: ox.Term, p: str, o: ox.Term) -> ox.Triple:
    return ox.Triple(s, ox.NamedNode(p), o)  # type: ignore[arg-type]


def n(local: str) -> ox.NamedNode:
    return ox.NamedNode(EX + local)


def test_restriction_drops_exactly_the_meaningless_kinds() -> None:
    dropped = [
        t(n("a"), OWL + "sameAs", n("a")),  # reflexive sameAs
        t(n("C"), RDFS + "subClassOf", n("C")),  # reflexive schema tautology
        t(n("C"), OWL + "equivalentClass", n("C")),
        t(n("p"), RDFS + "subPropertyOf", n("p")),
        t(n("C"), RDFS + "subClassOf", ox.NamedNode(OWL + "Thing")),
        t(ox.NamedNode(RDF + "type"), RDF + "type", ox.NamedNode(RDF + "Property")),
        t(ox.NamedNode(OWL + "Nothing"), RDFS + "subClassOf", n("C")),
        t(ox.NamedNode(XSD + "date"), RDF + "type", ox.NamedNode(RDFS + "Datatype")),
    ]
    kept = [
        t(n("a"), OWL + "sameAs", n("b")),
        t(n("a"), RDF + "type", n("C")),
        t(n("C"), RDFS + "subClassOf", n("D")),
        t(ox.BlankNode("x"), RDF + "type", n("C")),
        t(n("a"), EX + "p", ox.Literal("1", datatype=ox.NamedNode(XSD + "integer"))),
        t(n("p"), RDF + "type", ox.NamedNode(RDF + "Property")),
    ]
    assert [x for x in dropped if reason.is_meaningful(x)] == []
    assert [x for x in kept if not reason.is_meaningful(x)] == []
    assert reason.restrict(dropped + kept) == set(kept)


def test_infer_returns_restricted_closure_minus_asserted() -> None:
    ontology = [
        t(n("Meeting"), RDFS + "subClassOf", n("Event")),
        t(n("host"), RDFS + "subPropertyOf", n("participant")),
        t(n("participant"), RDFS + "range", n("Agent")),
    ]
    data = [
        t(n("m"), RDF + "type", n("Meeting")),
        t(n("m"), EX + "host", n("alice")),
        t(n("alice"), OWL + "sameAs", n("al")),
    ]
    inferred = reason.infer(ontology, data)
    assert t(n("m"), RDF + "type", n("Event")) in inferred
    assert t(n("m"), EX + "participant", n("alice")) in inferred
    assert t(n("alice"), RDF + "type", n("Agent")) in inferred
    assert t(n("al"), RDF + "type", n("Agent")) in inferred  # through sameAs
    assert not inferred & {*ontology, *data}
    assert all(reason.is_meaningful(x) for x in inferred)
    # owlrl itself adds what the restriction removes: the restriction does real work.
    raw = reason.owlrl_closure([*ontology, *data])
    assert t(n("alice"), OWL + "sameAs", n("alice")) in raw


def _rdflib_triples(paths: list[Path]) -> list[ox.Triple]:
    """The sources read by rdflib, not by the pipeline's parser: an independent path."""
    graph = rdflib.Graph()
    for path in paths:
        graph.parse(path, format="turtle")
    return [
        ox.Triple(*(reason.from_rdflib(x) for x in triple))  # type: ignore[misc]
        for triple in graph
    ]


def _ground(triples: set[ox.Triple]) -> set[ox.Triple]:
    """Blank-node labels differ between parsers; compare the triples without blank nodes."""
    return {
        x
        for x in triples
        if not isinstance(x.subject, ox.BlankNode) and not isinstance(x.object, ox.BlankNode)
    }


def test_inferred_graph_equals_owlrl_reference_on_real_data(
    published_build: Path, repo_root: Path
) -> None:
    ontology = _rdflib_triples(sorted((repo_root / "ontology").glob("*.ttl")))
    data = _rdflib_triples(sorted((repo_root / "data").rglob("*.ttl")))
    asserted = {*ontology, *data}
    reference = reason.restrict(reason.owlrl_closure(asserted)) - asserted

    build = open_published_build(published_build / "current")
    stored = {
        q.triple
        for q in build.store.quads_for_pattern(None, None, None, ox.NamedNode(GRAPH_INFERRED))
    }
    assert stored and _ground(stored) == _ground(reference)
    assert len(stored) == len(reference)
    # The fast engine gives the same restricted closure on the same triples.
    assert reason.infer(ontology, data, engine="rules") == reference
    for graph in (GRAPH_ONTOLOGY, GRAPH_DATA):
        stored_asserted = {
            q.triple for q in build.store.quads_for_pattern(None, None, None, ox.NamedNode(graph))
        }
        assert not stored & stored_asserted
