"""Session-wide graphs: parsed once, reasoned once (owlrl is the slow part, ~8 s)."""

from __future__ import annotations

import owlrl
import pyoxigraph as ox
import pytest
import rdflib

from .support import DATA_DIR, ONTOLOGY_DIR, SHAPES_DIR, oxigraph_store, parse, turtle_files


@pytest.fixture(scope="session")
def ontology_graph() -> rdflib.Graph:
    return parse(turtle_files(ONTOLOGY_DIR))


@pytest.fixture(scope="session")
def data_graph() -> rdflib.Graph:
    return parse(turtle_files(DATA_DIR))


@pytest.fixture(scope="session")
def shapes_graph() -> rdflib.Graph:
    return parse(turtle_files(SHAPES_DIR))


@pytest.fixture(scope="session")
def asserted_graph(ontology_graph: rdflib.Graph, data_graph: rdflib.Graph) -> rdflib.Graph:
    graph = rdflib.Graph()
    for triple in ontology_graph:
        graph.add(triple)
    for triple in data_graph:
        graph.add(triple)
    return graph


@pytest.fixture(scope="session")
def closure_graph(asserted_graph: rdflib.Graph) -> rdflib.Graph:
    """owlrl's OWL 2 RL closure of ontology + data (the reference the build is held to)."""
    closure = rdflib.Graph()
    for triple in asserted_graph:
        closure.add(triple)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(closure)
    return closure


@pytest.fixture(scope="session")
def inferred_store(closure_graph: rdflib.Graph) -> ox.Store:
    """Default graph = ontology + data + inferred, as the published default (union) graph."""
    return oxigraph_store(closure_graph)


@pytest.fixture(scope="session")
def asserted_store(asserted_graph: rdflib.Graph) -> ox.Store:
    return oxigraph_store(asserted_graph)
