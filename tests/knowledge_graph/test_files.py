"""Every Turtle file parses with rdflib and pyoxigraph; IRIs stay in known namespaces."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import BNode, URIRef

from defence_engagements.namespaces import BASE, KNOWN_VOCABULARIES, WIKIDATA_ENTITY

from .support import DATA_DIR, ONTOLOGY_DIR, REPO_ROOT, all_turtle_files, parse

# The one kind of outside IRI our files may carry: the licence of the ontology.
LICENCE_IRIS = {"https://creativecommons.org/licenses/by/4.0/"}
ALLOWED_PREFIXES = (BASE, WIKIDATA_ENTITY, *KNOWN_VOCABULARIES)

TURTLE_FILES = all_turtle_files()


def test_there_is_one_file_per_engagement() -> None:
    engagements = sorted((DATA_DIR / "engagements").glob("*.ttl"))
    assert len(engagements) == 10
    for path in engagements:
        graph = parse([path])
        subjects = set(graph.subjects(rdflib.RDF.type, None))
        own = {s for s in subjects if str(s).startswith(BASE + "id/engagement/")}
        assert {str(s) for s in own} == {BASE + "id/engagement/" + path.stem}, path.name


@pytest.mark.parametrize("path", TURTLE_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_turtle_parses_with_rdflib_and_pyoxigraph(path: Path) -> None:
    graph = parse([path])
    quads = list(ox.parse(path=str(path), format=ox.RdfFormat.TURTLE))
    assert len(graph) > 0
    assert len(quads) == len(graph)


@pytest.mark.parametrize("path", TURTLE_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_iri_is_ours_or_a_known_vocabulary(path: Path) -> None:
    graph = parse([path])
    strays = {
        str(term)
        for triple in graph
        for term in triple
        if isinstance(term, URIRef)
        and not str(term).startswith(ALLOWED_PREFIXES)
        and str(term) not in LICENCE_IRIS
    }
    assert not strays, f"IRIs outside our base and the known vocabularies: {sorted(strays)}"


def test_no_blank_nodes_in_ontology_or_data() -> None:
    """Every node of the ontology and the data has an IRI (shapes may use RDF lists)."""
    for path in [*ONTOLOGY_DIR.rglob("*.ttl"), *DATA_DIR.rglob("*.ttl")]:
        graph = parse([path])
        blanks = [t for t in graph if any(isinstance(term, BNode) for term in t)]
        assert not blanks, f"{path.name}: blank nodes in {blanks[:3]}"


def test_data_iris_follow_the_id_layout() -> None:
    """Subjects in data/ are …/id/{type}/{slug} (or …/archive/{file}), with a known type."""
    kinds = {
        "engagement",
        "person",
        "post",
        "organization",
        "country",
        "place",
        "source",
        "quote",
        "claim",
        "wikidata-link",
    }
    graph = parse(DATA_DIR.rglob("*.ttl"))
    for subject in set(graph.subjects()):
        iri = str(subject)
        if iri.startswith(BASE + "archive/"):
            continue
        assert iri.startswith(BASE + "id/"), iri
        kind, _, slug = iri[len(BASE + "id/") :].partition("/")
        assert kind in kinds, iri
        assert slug and "/" not in slug, iri
