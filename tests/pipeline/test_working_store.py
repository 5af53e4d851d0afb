"""The build's working store: validation and reasoning inside one pyoxigraph store must
give what the per-file and Python-object paths give, and blank nodes keep their labels."""

from __future__ import annotations

import gzip
import shutil
from dataclasses import replace
from pathlib import Path

import pyoxigraph as ox
import pytest
from pipeline_support import REPO_ROOT, make_tree

from defence_engagements import pipeline
from defence_engagements.dump_files import DumpFile
from defence_engagements.namespaces import GRAPH_DATA
from defence_engagements.pipeline import reason, workspace
from defence_engagements.pipeline.incremental import ParseCache
from defence_engagements.pipeline.validate import SubjectIndex, Validator
from defence_engagements.store import open_published_build

INVALID_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "invalid"


@pytest.fixture(scope="module")
def real_with_fixtures(tmp_path_factory: pytest.TempPathFactory) -> pipeline.Sources:
    """The real tree plus every invalid fixture (their IRIs are disjoint), parsed."""
    settings = make_tree(tmp_path_factory.mktemp("real"), source=REPO_ROOT)
    target = settings.data_path / "fixtures"
    target.mkdir()
    for fixture in INVALID_FIXTURES.glob("*.ttl"):
        shutil.copy(fixture, target / fixture.name)
    files = pipeline.source_files(settings)
    return pipeline.parse_sources(files, ParseCache(settings.build_path / "cache"))


def test_validation_in_the_working_store_equals_per_file_pyshacl(
    real_with_fixtures: pipeline.Sources,
) -> None:
    sources = real_with_fixtures
    asserted = [*sources.ontology, *sources.data]
    shapes = pipeline.Sources.triples(sources.shapes)
    ontology = pipeline.Sources.triples(sources.ontology)

    in_store = Validator(shapes, ontology).validate_store(workspace.workspace(asserted), asserted)
    reference = Validator(shapes, ontology, engine="pyshacl").validate_files(
        asserted, SubjectIndex(asserted)
    )

    # Everything but the wording of messages: with several sh:message, which one a
    # result carries is the engine's choice (RawResult.key says the same).
    assert [replace(f, message="") for f in in_store] == [replace(f, message="") for f in reference]
    # Every fixture is caught, at its own file and a line in it.
    judged = {f.file for f in in_store if f.severity == "Violation"}
    fixtures = {f"data/fixtures/{p.name}" for p in INVALID_FIXTURES.glob("*.ttl")}
    assert fixtures - {"data/fixtures/no-location-warning.ttl"} <= judged
    assert all(f.line for f in in_store if f.file in fixtures)


def test_reasoning_in_the_working_store_equals_the_python_path(
    real_with_fixtures: pipeline.Sources,
) -> None:
    sources = real_with_fixtures
    asserted = [*sources.ontology, *sources.data]
    expected = reason.infer(
        pipeline.Sources.triples(sources.ontology),
        pipeline.Sources.triples(sources.data),
        engine="rules",
    )
    store = workspace.workspace(asserted)
    reason.infer_in_store(store, asserted, engine="rules")
    assert {q.triple for q in store} == expected
    assert len(expected) > 1000


def test_blank_nodes_keep_their_stable_labels_in_store_and_dumps(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    note = tree.data_path / "notes.ttl"
    note.write_text(
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "<https://w3id.org/defence-engagements/id/person/alice> "
        'rdfs:seeAlso [ rdfs:label "a note"@en ] .\n',
        encoding="utf-8",
    )
    result = pipeline.build(tree)
    sources = pipeline.parse_sources(pipeline.source_files(tree), ParseCache(None))
    parsed = next(f for f in sources.data if f.source.path == note)
    label = next(t.object for t in parsed.triples if isinstance(t.object, ox.BlankNode))
    assert label.value.startswith(parsed.source.sha256[:12])

    store = open_published_build(tree.current_build).store
    in_data = list(store.quads_for_pattern(label, None, None, ox.NamedNode(GRAPH_DATA)))
    assert [q.object for q in in_data] == [ox.Literal("a note", language="en")]
    assert result.root is not None
    dump = gzip.decompress(DumpFile.of(result.root / "dumps" / "engagements.nt.gz").read_bytes())
    assert f"_:{label.value} ".encode() in dump
