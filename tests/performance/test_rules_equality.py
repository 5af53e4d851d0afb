"""The rules engine's closure equals owlrl's, restricted as the build publishes it."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
from benchmarks import closures

from defence_engagements.pipeline import reason, rules

REPO_ROOT = Path(__file__).resolve().parents[2]

# Rules the real ontology does not exercise: equality, functional and inverse-functional
# properties, restrictions, set operators, chains, keys, datatypes typed explicitly.
FEATURES = """
@prefix : <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
:Event a owl:Class . :Meeting a owl:Class ; rdfs:subClassOf :Event .
:Visit rdfs:subClassOf :Meeting .
:Agent a owl:Class . :Person a owl:Class ; rdfs:subClassOf :Agent ; owl:equivalentClass :Human .
:participant a owl:ObjectProperty ; rdfs:domain :Event ; rdfs:range :Agent .
:host rdfs:subPropertyOf :participant ; owl:inverseOf :hosted ; rdfs:range :Person .
:attendee owl:equivalentProperty :participant .
:partOf a owl:ObjectProperty, owl:TransitiveProperty ; owl:inverseOf :hasPart .
:near a owl:SymmetricProperty .
:date a owl:DatatypeProperty, owl:FunctionalProperty ; rdfs:range xsd:date .
:grandparent owl:propertyChainAxiom ( :parent :parent ) .
:HostedMeeting owl:intersectionOf ( :Meeting
    [ a owl:Restriction ; owl:onProperty :host ; owl:someValuesFrom :Person ] ) .
:JapanEvent a owl:Restriction ; owl:onProperty :country ; owl:hasValue :jp .
:AnyLeader a owl:Restriction ; owl:onProperty :leader ; owl:someValuesFrom owl:Thing .
:OnlyPeople a owl:Restriction ; owl:onProperty :member ; owl:allValuesFrom :Person .
:OrgOrPerson owl:unionOf ( :Agent :Org ) .
:Colour owl:oneOf ( :red :green ) .
:email a owl:InverseFunctionalProperty .
:Single a owl:Restriction ; owl:onProperty :leader ; owl:maxCardinality 1 .
:e1 a :Visit ; :host :p1 ; :date "2024-03-11"^^xsd:date ; :country :jp ; rdfs:label "E1"@en .
:p1 a :Human ; :partOf :d1 . :d1 :partOf :d2 . :d2 :partOf :d3 . :d3 :partOf :d1 . :d1 :near :d9 .
:o1 :parent :o2 . :o2 :parent :o3 . :club a :OnlyPeople ; :member :m1 .
:e2 :participant _:someone . :e3 :date "2024-03-01"^^xsd:date, "2024-03-02"^^xsd:date .
:a1 :email "x@example.org" . :a2 :email "x@example.org" . :a2 a :Person ; :host :zz .
:q1 owl:sameAs :q2 . :q2 owl:sameAs :q3 . :q3 :near :q4 . :q2 :attendee :a1 .
:team a :Single ; :leader :l1, :l2 . :n1 a xsd:integer .
"""


def _assert_same_closure(store: ox.Store) -> int:
    """Ours and the build's reference (owlrl), both through the build's one restriction."""
    asserted = {q.triple for q in store}
    reference = reason.restrict(reason.owlrl_closure(asserted)) - asserted
    ours = reason.restrict(rules.inferred(asserted)) - asserted
    missing, extra = reference - ours, ours - reference
    assert not missing and not extra, (
        f"{len(missing)} missing, e.g. {sorted(map(str, missing))[:5]}; "
        f"{len(extra)} extra, e.g. {sorted(map(str, extra))[:5]}"
    )
    return len(ours)


def test_the_build_can_run_either_engine() -> None:
    assert {"owlrl", "rules"} <= set(reason.ENGINES)


def test_every_rule_family_matches_owlrl() -> None:
    store = ox.Store()
    store.load(input=FEATURES, format=ox.RdfFormat.TURTLE)
    inferred = _assert_same_closure(store)
    assert inferred > 100  # the closure is not trivially empty on both sides


def test_real_ontology_and_data_match_owlrl() -> None:
    store = closures.load_tree(REPO_ROOT)
    data_files = list((REPO_ROOT / "data").rglob("*.ttl"))
    assert data_files, "the real data is missing"
    assert _assert_same_closure(store) > 1000


def test_generated_data_matches_owlrl(generated_tree: Path) -> None:
    store = closures.load_tree(generated_tree)
    assert _assert_same_closure(store) > 1000


def test_transitive_closure_handles_cycles_and_chains() -> None:
    a, b, c, d = (ox.NamedNode(f"http://example.org/{n}") for n in "abcd")
    reach = rules._transitive_closure({a: {b}, b: {c}, c: {a, d}})
    assert reach[a] == {a, b, c, d}  # a cycle reaches itself, as prp-trp derives x p x
    assert reach[c] == {a, b, c, d}
    assert rules._transitive_closure({a: {b}, b: {c}})[a] == {b, c}


def test_rounds_stop_at_a_fixpoint() -> None:
    store = ox.Store()
    store.load(input=FEATURES, format=ox.RdfFormat.TURTLE)
    report = rules.close_store(store)
    size = len(store)
    again = rules.close_store(store)
    assert len(store) == size  # a closed graph is closed: a second run adds nothing
    assert again.rounds == 1 and report.rounds >= 2


@pytest.mark.parametrize("literal_subject_rule", ["prp-rng", "prp-symp"])
def test_no_literal_subjects_reach_the_store(literal_subject_rule: str) -> None:
    store = ox.Store()
    store.load(input=FEATURES, format=ox.RdfFormat.TURTLE)
    rules.close_store(store)
    assert all(not isinstance(q.subject, ox.Literal) for q in store), literal_subject_rule
