"""Per-file validation (the build's path) reports what one whole-graph pyshacl run reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rdflib
from benchmarks import validation
from benchmarks.generate import Generator

from defence_engagements.pipeline import validate
from defence_engagements.pipeline.parse import ParsedFile

REPO_ROOT = Path(__file__).resolve().parents[2]
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
PLANTED = 4


@pytest.fixture(scope="session")
def violated_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("violated") / "tree"
    Generator(REPO_ROOT, engagements=10, seed=5).write(out, violations=PLANTED)
    return out


def _whole_graph(data: list[ParsedFile], shapes: list[ParsedFile], ontology: list[ParsedFile]):
    def graph(files: list[ParsedFile]) -> rdflib.Graph:
        return validate._rdflib_graph(t for f in files for t in f.triples)

    everything = graph(data) + graph(ontology)
    return {r.key()[:5] for r in validate.pyshacl_results(everything, graph(shapes))}


Result = tuple[str, str, str | None, str | None, str]


@pytest.fixture(scope="session")
def both_paths(violated_tree: Path) -> tuple[set[Result], set[Result]]:
    """(the build's per-file findings, one whole-graph pyshacl run's) on the same parse."""
    tree = validation.parse_tree(violated_tree)
    data, shapes, ontology = tree.data, tree.shapes, tree.ontology
    validator = validate.Validator(
        (t for f in shapes for t in f.triples), (t for f in ontology for t in f.triples)
    )
    index = validate.SubjectIndex([*data, *ontology])
    per_file = {
        (f.focus, f.shape, f.path, f.value, f.severity)
        for f in validator.validate_files(data, index)
    }
    return per_file, _whole_graph(data, shapes, ontology)


def _resources(results: set[Result]) -> set[Result]:
    return {r for r in results if not r[0].startswith('"')}  # compact() quotes literals


def test_per_file_validation_equals_whole_graph_on_resource_focus_nodes(
    both_paths: tuple[set[Result], set[Result]], violated_tree: Path
) -> None:
    per_file, whole = both_paths
    per_file, whole = _resources(per_file), _resources(whole)
    assert len(whole) >= PLANTED
    assert per_file == whole, (
        f"only per file: {sorted(per_file - whole)[:5]}; "
        f"only whole graph: {sorted(whole - per_file)[:5]}"
    )
    # The planted violations are among them: each planted focus node is reported.
    planted = json.loads((violated_tree / "violations.json").read_text())
    reported = {focus for focus, _, _, _, severity in whole if severity == "Violation"}
    assert len(planted) == PLANTED
    for plant in planted:
        assert any(plant["focus"].rsplit("/", 1)[1] in focus for focus in reported), plant


def test_per_file_validation_equals_whole_graph_on_every_focus_node(
    both_paths: tuple[set[Result], set[Result]],
) -> None:
    per_file, whole = both_paths
    assert per_file == whole, sorted(whole ^ per_file)[:5]
