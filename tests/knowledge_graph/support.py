"""Loading the knowledge graph's source files for the tests, the way the build reads them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib import BNode, Literal, URIRef

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
ONTOLOGY_DIR = REPO_ROOT / "ontology"
DATA_DIR = REPO_ROOT / "data"
SHAPES_DIR = REPO_ROOT / "shapes"
QUERIES_DIR = REPO_ROOT / "queries"
ARCHIVE_DIR = DATA_DIR / "sources" / "text"
INVALID_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "invalid"

DEX = rdflib.Namespace("https://w3id.org/defence-engagements/def#")
DESH = rdflib.Namespace("https://w3id.org/defence-engagements/shapes#")
OA = rdflib.Namespace("http://www.w3.org/ns/oa#")
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
ID = "https://w3id.org/defence-engagements/id/"


def turtle_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.ttl"))


def all_turtle_files() -> list[Path]:
    return [*turtle_files(ONTOLOGY_DIR), *turtle_files(DATA_DIR), *turtle_files(SHAPES_DIR)]


def parse(paths: Iterable[Path]) -> rdflib.Graph:
    graph = rdflib.Graph()
    for path in paths:
        graph.parse(path, format="turtle")
    return graph


def to_oxigraph_term(term: rdflib.term.Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    assert isinstance(term, Literal)
    if term.language:
        return ox.Literal(str(term), language=term.language)
    datatype = term.datatype or URIRef("http://www.w3.org/2001/XMLSchema#string")
    return ox.Literal(str(term), datatype=ox.NamedNode(str(datatype)))


def oxigraph_store(triples: Iterable[tuple[rdflib.term.Node, ...]]) -> ox.Store:
    """An in-memory store whose default graph holds the triples (literal subjects dropped:
    owlrl produces them, an RDF 1.1 store cannot hold them)."""
    store = ox.Store()
    store.extend(
        ox.Quad(to_oxigraph_term(s), to_oxigraph_term(p), to_oxigraph_term(o), ox.DefaultGraph())
        for s, p, o in triples
        if not isinstance(s, Literal) and isinstance(p, URIRef)
    )
    return store


def select(store: ox.Store, query: str) -> list[dict[str, str]]:
    """Rows of a SELECT as {variable: value} with IRIs and literal values as plain strings."""
    solutions = store.query(query)
    assert isinstance(solutions, ox.QuerySolutions)
    names = [variable.value for variable in solutions.variables]
    rows = []
    for solution in solutions:
        row = {}
        for name in names:
            value = solution[name]
            if value is not None:
                row[name] = value.value
        rows.append(row)
    return rows


def evidenced_wikidata_ids(data_notes: str) -> dict[str, str]:
    """The table 'Wikidata items with public evidence' of DATA-NOTES.md: {Qid: label}."""
    section = data_notes.split("## Wikidata items with public evidence", 1)[1]
    section = section.split("\n## ", 1)[0]
    evidenced: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not re.fullmatch(r"Q\d+( / Q\d+)*", cells[1]):
            continue
        labels = [label.strip() for label in cells[0].split(" / ")]
        qids = [qid.strip() for qid in cells[1].split(" / ")]
        assert len(labels) == len(qids), line
        evidenced.update(zip(qids, labels, strict=True))
    return evidenced
