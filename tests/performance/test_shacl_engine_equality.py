"""The compiled SHACL engine (pipeline/shacl.py) reports what pyshacl reports.

Compared on the real shapes over: generated data with planted violations, the real
data, the real data with every invalid fixture added, and small shapes graphs that
exercise constraints the real shapes do not use. A result is compared by focus node,
source shape, path, value, severity and constraint component, nested results
(``sh:detail``) included.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from benchmarks.generate import Generator

from defence_engagements.errors import ConfigurationError
from defence_engagements.pipeline import shacl, validate
from defence_engagements.pipeline.reason import from_rdflib

REPO_ROOT = Path(__file__).resolve().parents[2]
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
INVALID = sorted((REPO_ROOT / "tests" / "fixtures" / "invalid").glob("*.ttl"))

Key = tuple[str, str, str | None, str | None, str, str]  # RawResult.key()


def _triples(files: Iterable[Path]) -> list[ox.Triple]:
    return [
        quad.triple
        for path in files
        for quad in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)
    ]


def _tree(tree: Path, extra: Iterable[Path] = ()) -> tuple[list[ox.Triple], rdflib.Graph]:
    data = _triples([*sorted((tree / "data").rglob("*.ttl")), *extra])
    data += _triples(sorted((tree / "ontology").glob("*.ttl")))
    shapes = validate._rdflib_graph(_triples(sorted((tree / "shapes").glob("*.ttl"))))
    return data, shapes


def _compiled(data: list[ox.Triple], shapes: rdflib.Graph) -> set[Key]:
    validator = validate.Validator(_as_triples(shapes), [], engine="compiled")
    assert validator.engine == "compiled"
    return {r.key() for r in validator.run(data)}


def _pyshacl(data: list[ox.Triple], shapes: rdflib.Graph) -> set[Key]:
    return {r.key() for r in validate.pyshacl_results(validate._rdflib_graph(data), shapes)}


def _as_triples(graph: rdflib.Graph) -> list[ox.Triple]:
    return [ox.Triple(*(from_rdflib(term) for term in triple)) for triple in graph]  # type: ignore[misc]


def _assert_equal(data: list[ox.Triple], shapes: rdflib.Graph) -> set[Key]:
    ours, reference = _compiled(data, shapes), _pyshacl(data, shapes)
    assert ours == reference, (
        f"only compiled: {sorted(ours - reference)[:5]}; "
        f"only pyshacl: {sorted(reference - ours)[:5]}"
    )
    return ours


def test_equal_on_generated_data_with_planted_violations(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    Generator(REPO_ROOT, engagements=30, seed=3).write(tree, violations=6)
    found = _assert_equal(*_tree(tree))
    violations = {key for key in found if key[4] == "Violation"}
    assert len({key[0] for key in violations}) >= 6
    # sh:node on a bad date reports the nested result on the literal, as pyshacl does.
    assert any(key[0].startswith('"sometime in spring"') for key in violations)


def test_equal_on_the_real_data() -> None:
    found = _assert_equal(*_tree(REPO_ROOT))
    assert all(key[4] != "Violation" for key in found)
    assert found, "the real data has review warnings; none seen"


def test_equal_on_every_invalid_fixture_at_once() -> None:
    assert len(INVALID) >= 25
    found = _assert_equal(*_tree(REPO_ROOT, INVALID))
    focus = {key[0] for key in found if key[4] == "Violation"}
    assert len(focus) >= len(INVALID) // 2


EXTRA_SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:S a sh:NodeShape ; sh:targetNode ex:a, ex:b ; sh:targetObjectsOf ex:knows ;
    sh:nodeKind sh:IRI ;
    sh:property [ sh:path ex:name ; sh:maxLength 5 ; sh:pattern "^a" ; sh:flags "i" ] ,
        [ sh:path ( ex:knows ex:name ) ; sh:minCount 1 ] ,
        [ sh:path [ sh:inversePath ex:knows ] ; sh:maxCount 1 ] ,
        [ sh:path ex:tag ; sh:hasValue ex:red ] ,
        [ sh:path ex:age ; sh:datatype xsd:integer ; sh:not [ sh:in ( 13 ) ] ] ,
        [ sh:path [ sh:oneOrMorePath ex:knows ] ;
          sh:and ( [ sh:nodeKind sh:IRI ] [ sh:pattern "example" ] ) ] .
ex:T a sh:PropertyShape ; sh:targetSubjectsOf ex:age ; sh:path ex:age ; sh:minCount 1 ;
    sh:severity sh:Info .
ex:P a sh:NodeShape ; sh:targetSubjectsOf ex:period ;
    sh:property [ sh:path ex:period ; sh:node ex:Period ] .
ex:Period a sh:NodeShape ;
    sh:property [ sh:path ex:start ; sh:minCount 1 ; sh:datatype xsd:date ] .
"""
EXTRA_DATA = """
@prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:a ex:name "Alice", "albert-long" ; ex:knows ex:b ; ex:age 13 ; ex:tag ex:red .
ex:b ex:name "bob" ; ex:knows ex:c ; ex:tag ex:blue ; ex:age "twelve"^^xsd:integer .
ex:c ex:knows ex:a ; ex:age "7" .
ex:d ex:knows ex:a .
ex:e ex:period [ ex:start "2024"^^xsd:gYear ] , [ ex:start "2024-05-01"^^xsd:date ] , [ ] .
"""


def test_equal_on_constraints_the_real_shapes_do_not_use() -> None:
    shapes = rdflib.Graph().parse(data=EXTRA_SHAPES, format="turtle")
    data = [q.triple for q in ox.parse(EXTRA_DATA, format=ox.RdfFormat.TURTLE)]
    found = _assert_equal(data, shapes)
    components = {key[5] for key in found}
    assert {"PatternConstraintComponent", "MaxLengthConstraintComponent"} <= components
    assert "DatatypeConstraintComponent" in components  # "twelve" is ill-typed
    # Blank-node values checked through sh:node: one wrong datatype, one missing start.
    assert {"NodeConstraintComponent", "MinCountConstraintComponent"} <= components


def test_unsupported_shapes_fall_back_to_pyshacl() -> None:
    closed = rdflib.Graph().parse(
        data="@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> ."
        "ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:closed true .",
        format="turtle",
    )
    with pytest.raises(shacl.Unsupported):
        shacl.CompiledShapes(closed)
    shapes = _as_triples(closed)
    validator = validate.Validator(shapes, [])
    assert validator.engine == "pyshacl"
    with pytest.raises(ConfigurationError, match="ENGAGEMENTS_VALIDATOR"):
        validate.Validator(shapes, [], engine="fast")


def test_a_path_from_a_blank_node_it_cannot_query_goes_to_pyshacl() -> None:
    shapes = rdflib.Graph().parse(
        data="@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .\n"
        "ex:Q a sh:NodeShape ; sh:targetSubjectsOf ex:period ; sh:property [ sh:path ex:period ;"
        " sh:node [ sh:property [ sh:path ( ex:start ex:year ) ; sh:minCount 1 ] ] ] .",
        format="turtle",
    )
    data = [
        q.triple
        for q in ox.parse(
            "@prefix ex: <http://example.org/> . ex:e ex:period [ ex:start [ ex:year 1 ] ], [ ] .",
            format=ox.RdfFormat.TURTLE,
        )
    ]
    with pytest.raises(shacl.Unsupported):
        shacl.CompiledShapes(shapes).validate(shacl.load_store(data))
    found = _compiled(data, shapes)  # the validator fell back to pyshacl for this graph
    assert found == _pyshacl(data, shapes)
    assert any(key[5] == "NodeConstraintComponent" for key in found)
