"""Validation of one source tree by the build's path and by one whole-graph pyshacl run.

Both read the same pyoxigraph parse of the tree; each result is reduced to (focus
node, source shape, path, value, severity), nested results included, so the two
sets compare by hash across processes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from defence_engagements.pipeline import validate, workspace
from defence_engagements.pipeline.parse import ParsedFile, parse_turtle, read_source

Result = tuple[str, str, str, str, str]


@dataclass
class ParsedTree:
    ontology: list[ParsedFile]
    data: list[ParsedFile]
    shapes: list[ParsedFile]


def _parse(tree: Path, role: str, pattern: str) -> list[ParsedFile]:
    files = []
    for path in sorted((tree / role).glob(pattern)):
        source, content = read_source(path, path.relative_to(tree).as_posix(), role)
        files.append(parse_turtle(source, content))
    return files


def parse_tree(tree: Path) -> ParsedTree:
    return ParsedTree(
        _parse(tree, "ontology", "*.ttl"),
        _parse(tree, "data", "**/*.ttl"),
        _parse(tree, "shapes", "*.ttl"),
    )


def _triples(files: list[ParsedFile]):
    return (t for f in files for t in f.triples)


def ours(tree: ParsedTree) -> tuple[set[Result], float]:
    """What ``engagements build`` runs: every file loaded into one working store, one
    engine run over it, results given to the files that state their focus nodes."""
    started = time.perf_counter()
    validator = validate.Validator(_triples(tree.shapes), _triples(tree.ontology))
    units = [*tree.ontology, *tree.data]
    findings = validator.validate_store(workspace.workspace(units), units)
    seconds = time.perf_counter() - started
    return {(f.focus, f.shape, f.path or "", f.value or "", f.severity) for f in findings}, seconds


def whole_graph_pyshacl(tree: ParsedTree) -> tuple[set[Result], float]:
    """One pyshacl run over data + ontology; the rdflib graphs are made outside the timing."""
    data = validate._rdflib_graph(_triples([*tree.data, *tree.ontology]))
    shapes = validate._rdflib_graph(_triples(tree.shapes))
    started = time.perf_counter()
    results = validate.pyshacl_results(data, shapes)
    seconds = time.perf_counter() - started
    return {_key(r.key()) for r in results}, seconds


def _key(key: tuple[str, str, str | None, str | None, str, str]) -> Result:
    focus, shape, path, value, severity, _component = key
    return (focus, shape, path or "", value or "", severity)


ENGINES: dict[str, Callable[[ParsedTree], tuple[set[Result], float]]] = {
    "ours": ours,
    "pyshacl": whole_graph_pyshacl,
}


def digest(results: set[Result]) -> str:
    return hashlib.sha256("\n".join("\t".join(r) for r in sorted(results)).encode()).hexdigest()
