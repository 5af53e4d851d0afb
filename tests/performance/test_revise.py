"""A revised closure equals the closure computed anew, for random changes."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pyoxigraph as ox
import pytest
from benchmarks import closures

from defence_engagements.pipeline import revise, rules

REPO_ROOT = Path(__file__).resolve().parents[2]
DEX = "https://w3id.org/defence-engagements/def#"
VOCABULARY = closures.VOCABULARY


def _closure(asserted: set[ox.Triple]) -> ox.Store:
    store = ox.Store()
    store.extend(ox.Quad(t.subject, t.predicate, t.object) for t in asserted)
    rules.close_store(store)
    return store


def _comparable(store: ox.Store) -> set[ox.Triple]:
    # Triples about the vocabularies' own terms (the datatype axioms among them follow
    # the datatypes the data uses) are never published and feed no rule on the data.
    return {
        q.triple
        for q in store
        if not (isinstance(q.subject, ox.NamedNode) and q.subject.value.startswith(VOCABULARY))
    }


ASSERTED = ox.NamedNode("urn:x-test:asserted")
INFERRED = ox.NamedNode("urn:x-test:inferred")


def _revise(
    asserted: set[ox.Triple],
    removed: set[ox.Triple],
    added: set[ox.Triple],
    layout: str = "default graph",
) -> None:
    """Revise the closure of ``asserted`` by the change; compare with the new closure.
    ``layout`` "named graphs": the closure kept as the build keeps it, the assertions in
    one graph and what they entail in another."""
    new_asserted = (asserted - removed) | added
    store = _closure(asserted)
    for triple in removed:
        store.remove(ox.Quad(triple.subject, triple.predicate, triple.object))
    store.extend(ox.Quad(t.subject, t.predicate, t.object) for t in added - asserted)
    closure: ox.Store | revise.Closure = store
    if layout == "named graphs":
        spread = ox.Store()
        for quad in store:
            graph = ASSERTED if quad.triple in new_asserted else INFERRED
            spread.add(ox.Quad(quad.subject, quad.predicate, quad.object, graph))
        closure = revise.Closure(spread, [ASSERTED, INFERRED], write=INFERRED)
    revise.revise_closure(
        closure,
        (ox.Quad(t.subject, t.predicate, t.object) for t in removed),
        (ox.Quad(t.subject, t.predicate, t.object) for t in added - asserted),
        lambda quad: quad.triple in new_asserted,
    )
    if isinstance(closure, revise.Closure):
        store = ox.Store()
        store.extend(ox.Quad(q.subject, q.predicate, q.object) for q in closure.store)
        assert {q.triple for q in closure.store.quads_for_pattern(None, None, None, ASSERTED)} == (
            new_asserted
        )
    expected = _comparable(_closure(new_asserted))
    got = _comparable(store)
    missing, extra = expected - got, got - expected
    assert not missing and not extra, (
        f"{len(missing)} missing, e.g. {sorted(map(str, missing))[:4]}; "
        f"{len(extra)} extra, e.g. {sorted(map(str, extra))[:4]}"
    )


@pytest.fixture(scope="module")
def asserted(generated_tree: Path) -> set[ox.Triple]:
    return {q.triple for q in closures.load_tree(generated_tree)}


def _data_triples(asserted: set[ox.Triple]) -> list[ox.Triple]:
    return sorted(
        (t for t in asserted if not revise._fixed(ox.Quad(t.subject, t.predicate, t.object))),
        key=str,
    )


@pytest.mark.parametrize("layout", ["default graph", "named graphs"])
@pytest.mark.parametrize("seed", range(6))
def test_random_edits_give_the_closure_computed_anew(
    asserted: set[ox.Triple], seed: int, layout: str
) -> None:
    """Remove a few asserted triples and add a few made of existing terms (an edited
    engagement file: a participant, a country, a label, a type swapped)."""
    chooser = random.Random(seed)
    data = _data_triples(asserted)
    removed = set(chooser.sample(data, 12))
    by_predicate: dict[ox.NamedNode, list[ox.Term]] = {}
    for triple in data:
        by_predicate.setdefault(triple.predicate, []).append(triple.object)
    added = set()
    for triple in chooser.sample(data, 12):
        objects = by_predicate[triple.predicate]
        added.add(ox.Triple(triple.subject, triple.predicate, chooser.choice(objects)))
    _revise(asserted, removed, added, layout)


def test_removing_an_engagement_file_and_adding_it_back(asserted: set[ox.Triple]) -> None:
    engagement = sorted(
        {
            t.subject
            for t in asserted
            if str(t.subject).startswith("<https://w3id.org/defence-engagements/id/engagement/")
        },
        key=str,
    )[3]
    about = {t for t in asserted if t.subject == engagement or t.object == engagement}
    _revise(asserted, about, set())
    _revise(asserted - about, set(), about)


def test_transitive_chains_and_cycles_are_cut_and_joined(asserted: set[ox.Triple]) -> None:
    """subEventOf is transitive: links that make a chain, a cycle, then cut it."""
    engagements = sorted(
        {
            t.subject
            for t in asserted
            if str(t.subject).startswith("<https://w3id.org/defence-engagements/id/engagement/")
        },
        key=str,
    )[:5]
    sub_event_of = ox.NamedNode(DEX + "subEventOf")
    chain = {ox.Triple(a, sub_event_of, b) for a, b in itertools.pairwise(engagements)}
    _revise(asserted, set(), chain)
    cycle = ox.Triple(engagements[-1], sub_event_of, engagements[0])
    _revise(asserted | chain, set(), {cycle})
    middle = ox.Triple(engagements[1], sub_event_of, engagements[2])
    _revise(asserted | chain | {cycle}, {middle}, set())
    _revise(asserted | chain, {middle}, {cycle})


def test_a_change_to_the_schema_is_left_to_a_full_closure(asserted: set[ox.Triple]) -> None:
    store = _closure(asserted)
    change = ox.Quad(
        ox.NamedNode(DEX + "Meeting"),
        ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf"),
        ox.NamedNode(DEX + "Visit"),
    )
    before = len(store)
    with pytest.raises(revise.Unsupported, match="schema"):
        revise.revise_closure(store, [], [change], lambda quad: True)
    assert len(store) == before


def test_a_transitive_link_with_another_path_stays(asserted: set[ox.Triple]) -> None:
    """withinOrganization is transitive with no inverse: cutting one side of a diamond
    leaves the far link derived through the other side."""
    within = ox.NamedNode(DEX + "withinOrganization")
    a, b, c, d = (
        ox.NamedNode(f"https://w3id.org/defence-engagements/id/org/synthetic-{n}") for n in "abcd"
    )
    diamond = {
        ox.Triple(a, within, b),
        ox.Triple(b, within, c),
        ox.Triple(a, within, d),
        ox.Triple(d, within, c),
    }
    _revise(asserted | diamond, {ox.Triple(a, within, b)}, set())
    chain = {ox.Triple(a, within, b), ox.Triple(b, within, c), ox.Triple(c, within, d)}
    _revise(asserted | chain, {ox.Triple(b, within, c)}, {ox.Triple(b, within, d)})
