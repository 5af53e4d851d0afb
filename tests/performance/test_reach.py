"""A rebuild judges only the focus nodes its change can reach (pipeline/reach.py) and
keeps the last build's other findings: its verdict must be a whole validation's."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest

from defence_engagements import pipeline
from defence_engagements.dump_files import dumps_in
from defence_engagements.namespaces import NAMED_GRAPHS
from defence_engagements.pipeline.parse import parse_turtle, read_source
from defence_engagements.pipeline.reach import Reach
from defence_engagements.pipeline.shacl import CompiledShapes
from defence_engagements.pipeline.validate import Finding, Validator
from defence_engagements.settings import Settings, load_settings
from defence_engagements.store import open_published_build, read_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEX = "https://w3id.org/defence-engagements/def#"
ID = "https://w3id.org/defence-engagements/id/"
# A predicate-object line of its own (the generator writes one a line): deleting it
# leaves the Turtle well formed.
_INNER_LINE = re.compile(r"^\t[^\t].* ;$", re.MULTILINE)


def _tree(source: Path, root: Path) -> Settings:
    for part in ("ontology", "data", "shapes"):
        shutil.copytree(source / part, root / part, ignore=shutil.ignore_patterns("text"))
    # Small dump parts, so that rebuilds patch them (pipeline/dump_parts.py).
    return load_settings(repo_root=root, build_dir=root / "build", dump_part_subjects=4)


def _verdict(settings: Settings) -> tuple[str, list[Finding]]:
    """How a build of the tree ends (revised, closed, failed) and its findings."""
    try:
        result = pipeline.build(settings)
    except pipeline.ValidationFailedError as failure:
        return "failed", failure.findings
    return str(result.manifest["reasoning"]), result.findings


def _scratch_verdict(settings: Settings, build_dir: Path) -> list[Finding]:
    shutil.rmtree(build_dir, ignore_errors=True)
    scratch = settings.with_overrides(build_dir=build_dir)
    how, findings = _verdict(scratch)
    assert how in ("closure", "failed")
    return findings


# What differs between two builds of the same files: their version and date.
_DATED = ("void.ttl", "engagements.nq.gz", "SHA256SUMS")
_VOLATILE = {
    "http://purl.org/dc/terms/modified",
    "http://www.w3.org/2002/07/owl#versionInfo",
    "http://www.w3.org/ns/dcat#version",
}


def _published(
    build: Path,
) -> tuple[dict[str, object], dict[str, set[ox.Triple]], dict[str, bytes]]:
    """A published build's figures, graphs (the dated triples left out) and dumps."""
    manifest = read_manifest(build)
    store = open_published_build(build).store
    graphs = {
        graph: {
            q.triple
            for q in store.quads_for_pattern(None, None, None, ox.NamedNode(graph))
            if q.predicate.value not in _VOLATILE
        }
        for graph in NAMED_GRAPHS
    }
    files = {d.name: d.read_bytes() for d in dumps_in(build / "dumps") if d.name not in _DATED}
    figures = {k: manifest[k] for k in ("graphs", "triples", "dumps", "subject_bounds", "warnings")}
    return figures, graphs, files


def _edit(rng: random.Random, data: Path) -> dict[Path, str]:
    """One or two random edits that keep the Turtle well formed: a label changed, a
    statement line dropped (a missing label, date, post, quote…), a type swapped, a
    claim's preference flipped, a date moved. Returns the edited files' old texts."""
    files = sorted(data.rglob("*.ttl"))
    before: dict[Path, str] = {}
    wanted = rng.randint(1, 2)
    while len(before) < wanted:
        path = rng.choice(files)
        text = path.read_text(encoding="utf-8")
        kind = rng.choice(["drop", "label", "label", "type", "preferred", "date"])
        if kind == "label" and '"@en' in text:
            text = text.replace('"@en', ' (edited)"@en', 1)
        elif kind == "drop" and (lines := _INNER_LINE.findall(text)):
            line = rng.choice(lines)
            text = text.replace(line + "\n", "", 1)
        elif kind == "type" and " a dex:Person" in text:
            text = text.replace(" a dex:Person", " a dex:Place", 1)
        elif kind == "preferred" and "dex:preferred false" in text:
            text = text.replace("dex:preferred false", "dex:preferred true", 1)
        elif kind == "date" and '-13"^^xsd:date' in text:
            text = text.replace('-13"^^xsd:date', '-14"^^xsd:date', 1)
        else:
            continue
        before.setdefault(path, path.read_text(encoding="utf-8"))
        path.write_text(text, encoding="utf-8")
    return before


def test_random_edits_of_a_generated_tree_get_a_whole_validations_verdict(
    generated_tree: Path, tmp_path: Path
) -> None:
    """Rounds of random edits to a tree of generated engagements (shared people,
    posts, sources, claims): each rebuild's findings, carried over and judged again,
    are those of a build from scratch; violations fail both (and the round's edits
    are undone), warnings are the same; what a revised build publishes (graphs, VoID
    figures, maxima, dumps) is what the build from scratch publishes."""
    rng = random.Random(17)
    tree = _tree(generated_tree, tmp_path / "tree")
    assert _verdict(tree)[0] == "closure"
    revised_rounds = failed_rounds = 0
    for round_number in range(12):
        before = _edit(rng, tree.data_path)
        edits = sorted(p.name for p in before)
        how, findings = _verdict(tree)
        expected = _scratch_verdict(tree, tmp_path / "scratch-build")
        assert findings == expected, (round_number, edits)
        if how == "revision":  # and what it published: graphs, VoID figures, dumps
            assert _published(tree.current_build) == _published(
                tmp_path / "scratch-build" / "current"
            ), (round_number, edits)
        revised_rounds += how == "revision"
        failed_rounds += how == "failed"
        if how == "failed":
            for path, text in before.items():
                path.write_text(text, encoding="utf-8")
    assert revised_rounds >= 4 and failed_rounds >= 1, (revised_rounds, failed_rounds)


def test_a_type_changed_in_one_file_fails_the_engagements_of_others(tmp_path: Path) -> None:
    """sh:class reads the types of the values: a person made a place in people.ttl
    makes the engagements (other files) that have them as a participant fail."""
    real = _tree(REPO_ROOT, tmp_path / "real")
    pipeline.build(real)
    people = real.data_path / "people.ttl"
    people.write_text(
        people.read_text(encoding="utf-8").replace(
            "person:christopher-cavoli a dex:Person", "person:christopher-cavoli a dex:Place"
        ),
        encoding="utf-8",
    )
    with pytest.raises(pipeline.ValidationFailedError) as failure:
        pipeline.build(real)
    files = {f.file for f in failure.value.fatal}
    assert "data/engagements/2024-02-cavoli-visit-to-japan.ttl" in files
    assert failure.value.findings == _scratch_verdict(real, tmp_path / "scratch")


def test_a_claim_in_another_file_is_judged_when_its_subject_changes(tmp_path: Path) -> None:
    """A preferred claim must be followed (a SPARQL constraint joining the claim to
    the claimed thing): a claim stated in its own file fails when the engagement's
    file changes the date it vouches for."""
    real = _tree(REPO_ROOT, tmp_path / "real")
    engagement = real.data_path / "engagements" / "2024-03-11-useucom-japan-joint-staff-talks.ttl"
    date = re.search(r'dex:startDate "([0-9-]+)"\^\^xsd:date', engagement.read_text())
    assert date is not None
    claims = real.data_path / "summit-claims.ttl"
    quote = re.search(r"quote:[a-z0-9-]+", engagement.read_text())
    source = re.search(r"source:[a-z0-9-]+", engagement.read_text())
    assert quote is not None and source is not None
    claims.write_text(
        "@prefix dex: <" + DEX + "> .\n"
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
        "@prefix prov: <http://www.w3.org/ns/prov#> .\n"
        "@prefix quote: <" + ID + "quote/> .\n"
        "@prefix source: <" + ID + "source/> .\n"
        "<" + ID + "claim/summit-date> a dex:Claim ;\n"
        "    dex:claimAbout <" + ID + "engagement/2024-03-11-useucom-japan-joint-staff-talks> ;\n"
        f'    dex:claimedProperty dex:startDate ; dex:claimedValue "{date[1]}"^^xsd:date ;\n'
        '    dex:preferred true ; dex:reason "The date the source gives."@en ;\n'
        f"    dex:evidenceQuote {quote[0]} ; prov:wasDerivedFrom {source[0]} .\n",
        encoding="utf-8",
    )
    assert _verdict(real)[0] == "closure"
    text = engagement.read_text(encoding="utf-8")
    moved = "2023" + date[1][4:]
    engagement.write_text(text.replace(f'"{date[1]}"^^xsd:date', f'"{moved}"^^xsd:date', 1))
    with pytest.raises(pipeline.ValidationFailedError) as failure:
        pipeline.build(real)
    assert {f.file for f in failure.value.fatal} == {"data/summit-claims.ttl"}
    assert failure.value.findings == _scratch_verdict(real, tmp_path / "scratch")


def _project_shapes() -> CompiledShapes:
    shapes = []
    for path in sorted((REPO_ROOT / "shapes").glob("*.ttl")):
        source, content = read_source(path, path.name, "shapes")
        shapes += parse_turtle(source, content).triples
    compiled = Validator(shapes, []).compiled
    assert compiled is not None
    return compiled


def test_the_reach_of_the_shapes_follows_their_paths_and_joins() -> None:
    """What the reach asks of a store: the changed triples' subjects, the nodes that
    have a retyped node as a value, and the claims joined through what they are about."""
    compiled = _project_shapes()
    reach = Reach(compiled)

    def iri(text: str) -> ox.NamedNode:
        return ox.NamedNode(ID + text if "/" in text else DEX + text)

    data = ox.NamedNode("urn:test:data")
    store = ox.Store()
    meeting, person, claim = iri("engagement/m"), iri("person/p"), iri("claim/c")
    true = ox.Literal("true", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#boolean"))
    for s, p, o in [
        (meeting, iri("guest"), person),
        (claim, iri("preferred"), true),
        (claim, iri("claimAbout"), meeting),
        (claim, iri("claimedProperty"), iri("startDate")),
        (claim, iri("claimedValue"), ox.Literal("2024-01-01")),
    ]:
        store.add(ox.Quad(s, p, o, data))
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    retyped = ox.Triple(person, rdf_type, iri("Person"))
    assert reach.focus_nodes(store, [data], [retyped]) == {person, meeting}
    relabelled = ox.Triple(person, ox.NamedNode(DEX + "familyName"), ox.Literal("P"))
    assert reach.focus_nodes(store, [data], [relabelled]) == {person}
    redated = ox.Triple(meeting, iri("startDate"), ox.Literal("2024-01-01"))
    assert reach.focus_nodes(store, [data], [redated]) == {meeting, claim}


def test_the_constraints_analysis_is_kept_and_read_back_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rdflib's parser takes a rebuild 0.3–0.4 s: the patterns it gives are kept by the
    query's text and read back equal, with no parse; an unreadable entry is made again."""
    from defence_engagements.pipeline import reach as reach_module

    compiled = _project_shapes()
    fresh = Reach(compiled)
    assert fresh.constraints  # the shapes have SPARQL constraints
    kept = Reach(compiled, tmp_path / "reach")
    assert kept.constraints == fresh.constraints
    entries = sorted((tmp_path / "reach").glob("*.json"))
    assert len(entries) == len(set(fresh.constraints))

    def no_parse(prefixes: str, select: str) -> None:
        raise AssertionError("analysed again")

    monkeypatch.setattr(reach_module, "_analysed", no_parse)
    assert Reach(compiled, tmp_path / "reach").constraints == fresh.constraints
    entries[0].write_bytes(b"{not json")
    monkeypatch.undo()
    assert Reach(compiled, tmp_path / "reach").constraints == fresh.constraints
