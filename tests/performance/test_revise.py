"""A revised closure equals the closure computed anew, for random changes."""

from __future__ import annotations

import itertools
import random
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from benchmarks import closures

from defence_engagements.dump_files import DumpFile
from defence_engagements.pipeline import revise, rules
from defence_engagements.settings import Settings

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


def _engagements(asserted: set[ox.Triple]) -> list[ox.Term]:
    own = "<https://w3id.org/defence-engagements/id/engagement/"
    return sorted({t.subject for t in asserted if str(t.subject).startswith(own)}, key=str)


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
    engagement = _engagements(asserted)[3]
    about = {t for t in asserted if t.subject == engagement or t.object == engagement}
    _revise(asserted, about, set())
    _revise(asserted - about, set(), about)


def test_transitive_chains_and_cycles_are_cut_and_joined(asserted: set[ox.Triple]) -> None:
    """subEventOf is transitive: links that make a chain, a cycle, then cut it."""
    engagements = _engagements(asserted)[:5]
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


def test_a_generated_tree_rebuilt_after_edits_equals_a_build_from_scratch(
    generated_tree: Path, tmp_path: Path
) -> None:
    """Two engagements gone, one relabelled, one added under a new slug, in a tree of
    generated engagements sharing people, posts, organisations and places: the build
    that revises the last one publishes what a build from scratch does."""
    from defence_engagements import pipeline
    from defence_engagements.namespaces import GRAPH_METADATA, NAMED_GRAPHS
    from defence_engagements.settings import load_settings
    from defence_engagements.store import open_published_build

    def tree(root: Path) -> Settings:
        for part in ("ontology", "data", "shapes"):
            shutil.copytree(generated_tree / part, root / part)
        return load_settings(repo_root=root, build_dir=root / "build")

    def edit(settings: Settings) -> None:
        engagements = sorted((settings.data_path / "engagements").glob("*.ttl"))
        unreferenced = [
            p for p in engagements if "2024-03-11-useucom" in p.name or "usfj" in p.name
        ]
        for path in unreferenced[:2]:
            path.unlink()
        summit = next(p for p in engagements if "biden-kishida-summit" in p.name)
        text = summit.read_text(encoding="utf-8")
        copy = summit.with_name(summit.stem + "-copy.ttl")
        copy.write_text(text.replace(summit.stem, copy.stem), encoding="utf-8")
        visit = next(p for p in engagements if "cavoli-visit" in p.name)
        visit.write_text(
            visit.read_text(encoding="utf-8").replace("synthetic ", "synthetic, edited, ", 1),
            encoding="utf-8",
        )

    def content(settings: Settings) -> dict[str, set[ox.Triple]]:
        store = open_published_build(settings.current_build).store
        return {
            graph: {
                q.triple for q in store.quads_for_pattern(None, None, None, ox.NamedNode(graph))
            }
            for graph in NAMED_GRAPHS
            if graph != GRAPH_METADATA
        }

    revised = tree(tmp_path / "revised")
    pipeline.build(revised)
    edit(revised)
    assert pipeline.build(revised).manifest["reasoning"] == "revision"
    scratch = tree(tmp_path / "scratch")
    edit(scratch)
    pipeline.build(scratch)
    assert content(revised) == content(scratch)
    for name in ("engagements.nt.gz", "engagements-inferred.ttl"):
        assert (
            DumpFile.of(revised.current_build / "dumps" / name).read_bytes()
            == DumpFile.of(scratch.current_build / "dumps" / name).read_bytes()
        ), name
