"""SHACL validation, one source file at a time, with results cached by what they depend on.

A file's *validation graph* is every triple about the subjects the file defines
(from any file: a subject may be described in two), plus every triple about the
nodes those triples mention (their types, for ``sh:class``), plus the ontology
(pyshacl's ``ont_graph``, for subclasses and concept schemes). Only results whose
focus node the file defines are kept. This equals one whole-graph pyshacl run for
shapes that look one step from the focus node and at the types of the values,
which covers every shape in ``shapes/``; a shape that walks longer paths needs
the neighbourhood widened in :func:`validation_graph`.

Files whose results are not cached are validated together in one pyshacl run over
the union of their validation graphs (one call costs far less than many), and the
results are shared out by focus node; a full build is thus one whole-graph run.

The cache key of a file is the digest of its validation graph, the ontology and
the shapes: a change elsewhere re-validates a file only when it changes what the
file's validation can see.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pyoxigraph as ox
import rdflib

from defence_engagements.errors import ConfigurationError
from defence_engagements.namespaces import BASE, PREFIXES
from defence_engagements.pipeline import shacl
from defence_engagements.pipeline.parse import ParsedFile
from defence_engagements.pipeline.reason import from_rdflib, to_rdflib

CACHE_VERSION = "validate-1"
SH = "http://www.w3.org/ns/shacl#"
SEVERITIES = {SH + "Violation": "Violation", SH + "Warning": "Warning", SH + "Info": "Info"}
SEVERITY_NAMES = frozenset(SEVERITIES.values())
_SUBJECT = re.compile(rb"^(\S+) ", re.MULTILINE)  # an N-Triples line's subject


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int | None
    focus: str
    shape: str
    path: str | None
    message: str
    value: str | None
    severity: str  # "Violation", "Warning" or "Info"
    component: str

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def fatal_severities(*, strict: bool = False) -> frozenset[str]:
    """The severities that fail a build: violations, and with ``strict`` warnings too."""
    return frozenset({"Violation", "Warning"} if strict else {"Violation"})


def failing(findings: Iterable[Finding], *, strict: bool = False) -> list[Finding]:
    """Findings that fail a build."""
    fatal = fatal_severities(strict=strict)
    return [f for f in findings if f.severity in fatal]


class SubjectIndex:
    """Every asserted triple of the data and ontology, by subject."""

    def __init__(self, files: Iterable[ParsedFile]) -> None:
        self.files = list(files)
        self.by_subject: dict[ox.Term, list[ox.Triple]] = defaultdict(list)
        for parsed in self.files:
            for triple in parsed.triples:
                self.by_subject[triple.subject].append(triple)

    def all_triples(self) -> Iterator[ox.Triple]:
        for parsed in self.files:
            yield from parsed.triples

    def about(self, nodes: Iterable[ox.Term]) -> set[ox.Triple]:
        out: set[ox.Triple] = set()
        for node in nodes:
            out.update(self.by_subject.get(node, ()))
        return out


def validation_graph(parsed: ParsedFile, index: SubjectIndex) -> set[ox.Triple]:
    core = set(parsed.triples) | index.about({t.subject for t in parsed.triples})
    mentioned = {t.subject for t in core} | {
        t.object for t in core if isinstance(t.object, ox.NamedNode | ox.BlankNode)
    }
    return core | index.about(mentioned)


def digest_triples(triples: Iterable[ox.Triple]) -> str:
    h = hashlib.sha256()
    for line in sorted(str(t) for t in triples):
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()


ENGINES = ("compiled", "pyshacl")


@dataclass(frozen=True)
class RawResult:
    """One validation result of either engine, before it is given to a file."""

    focus: rdflib.term.Node
    shape: rdflib.term.Node | None
    path: str | None
    value: rdflib.term.Node | None
    severity: str
    component: str
    message: str

    def key(self) -> tuple[str, str, str | None, str | None, str, str]:
        """What two engines must agree on: everything but the message's wording."""
        value = None if self.value is None else compact(self.value)
        return (
            compact(self.focus),
            compact(self.shape),
            self.path,
            value,
            self.severity,
            self.component,
        )


class Validator:
    """The shapes and ontology read once, an engine, and an optional on-disk cache.

    The engine is :mod:`.shacl` (the shapes compiled to queries over pyoxigraph) when
    it covers every feature the shapes use, else pyshacl, the reference; ``engine=
    "pyshacl"`` (``ENGAGEMENTS_VALIDATOR=pyshacl``) forces the reference.
    """

    def __init__(
        self,
        shapes: Iterable[ox.Triple],
        ontology: Iterable[ox.Triple],
        cache_dir: Path | None = None,
        engine: str = "compiled",
    ) -> None:
        if engine not in ENGINES:
            raise ConfigurationError(
                f"unknown validator {engine!r}: set ENGAGEMENTS_VALIDATOR to one of {ENGINES}"
            )
        shapes, ontology = list(shapes), list(ontology)
        self.shapes_graph = _rdflib_graph(shapes)
        self.ontology = ontology
        self.compiled: shacl.CompiledShapes | None = None
        if engine == "compiled":
            try:
                self.compiled = shacl.CompiledShapes(self.shapes_graph)
            except shacl.Unsupported:
                self.compiled = None
        self.engine = "compiled" if self.compiled else "pyshacl"
        self.schema_digest = self.engine + digest_triples(shapes) + digest_triples(ontology)
        self.cache_dir = cache_dir
        self.runs = 0  # engine runs made (cache misses), for reports and tests

    def validate_files(
        self,
        units: list[ParsedFile],
        index: SubjectIndex,
        progress: Callable[[ParsedFile], None] | None = None,
    ) -> list[Finding]:
        """Findings for ``units``: cached ones read back, the others from ONE engine run
        over the union of their validation graphs (one call costs far less than many)."""
        results: dict[int, list[Finding]] = {}
        misses: list[tuple[int, ParsedFile, str, set[ox.Triple]]] = []
        whole = len(units) == len(index.files)  # every file: the union is the index
        # A file's validation graph serves its cache key and a partial run's union; a
        # whole run without a cache needs neither.
        needs_graphs = self.cache_dir is not None or not whole
        for position, parsed in enumerate(units):
            graph = validation_graph(parsed, index) if needs_graphs else set()
            key = self._key(parsed, graph)
            cached = self._read_cache(key)
            if cached is None:
                misses.append((position, parsed, key, graph))
            else:
                results[position] = cached
                if progress:
                    progress(parsed)
        if misses:
            if whole and len(misses) == len(units):
                union: Iterable[ox.Triple] = index.all_triples()
            else:
                union = set()
                for _, _, _, graph in misses:
                    union |= graph
            fresh = _distribute([parsed for _, parsed, _, _ in misses], self.run(union))
            for (position, parsed, key, _), findings in zip(misses, fresh, strict=True):
                self._write_cache(key, findings)
                results[position] = findings
                if progress:
                    progress(parsed)
        return once_each(results[position] for position in sorted(results))

    def _key(self, parsed: ParsedFile, graph: set[ox.Triple]) -> str:
        parts = (
            CACHE_VERSION,
            parsed.source.name,
            parsed.source.sha256,
            self.schema_digest,
            digest_triples(graph),
        )
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def run(self, graph: Iterable[ox.Triple]) -> list[RawResult]:
        """Every result over ``graph`` plus the ontology, from the engine."""
        store = shacl.load_store(graph)
        store.extend(ox.Quad(t.subject, t.predicate, t.object) for t in self.ontology)
        return self.run_store(store)

    def _results_of(self, results: Iterable[shacl.Result]) -> list[RawResult]:
        return [
            RawResult(
                focus=to_rdflib(r.focus),
                shape=r.shape,
                path=_path_text(self.shapes_graph, r.path),
                value=None if r.value is None else to_rdflib(r.value),
                severity=SEVERITIES.get(r.severity, "Violation"),
                component=compact(rdflib.URIRef(r.component)).removeprefix("sh:"),
                message=r.messages[0] if r.messages else "",
            )
            for r in results
        ]

    def run_store(self, store: ox.Store) -> list[RawResult]:
        """Every result over a store holding the data and the ontology in its default
        graph (the build's working store), without copying it."""
        self.runs += 1
        if self.compiled is not None:
            try:
                return self._results_of(self.compiled.validate(store))
            except shacl.Unsupported:
                pass  # data the engine cannot judge exactly (a path from a blank node)
        data_graph = _rdflib_graph(q.triple for q in store)
        return pyshacl_results(data_graph, self.shapes_graph)

    def validate_focus(
        self, store: ox.Store, graphs: list[ox.NamedNode], focus: Iterable[ox.Term]
    ) -> list[RawResult]:
        """The results of the focus nodes ``focus`` alone, judged in the union of
        ``graphs`` of ``store`` (a rebuild's revised store); :func:`findings_of` gives
        them to files. Raises :class:`.shacl.Unsupported` when the engine is pyshacl or
        cannot judge these nodes alone (the caller then judges everything)."""
        if self.compiled is None:
            raise shacl.Unsupported("pyshacl judges whole graphs only")
        self.runs += 1
        return self._results_of(self.compiled.validate(store, graphs=graphs, focus=focus))

    def validate_store(
        self, store: ox.Store, files: list[ParsedFile], *, located: Collection[str] = SEVERITY_NAMES
    ) -> list[Finding]:
        """Findings for ``files`` from one run over ``store``, which holds them all.

        Only findings whose severity is in ``located`` get a line: finding the line
        means reading the file's Turtle again, and a build that fails only on
        violations need not do that for thousands of warnings (``engagements
        validate`` locates every finding)."""
        return findings_of(self.run_store(store), files, located)

    def _read_cache(self, key: str) -> list[Finding] | None:
        if self.cache_dir is None:
            return None
        try:
            rows = json.loads((self.cache_dir / f"{key}.json").read_text(encoding="utf-8"))
            return [Finding(**row) for row in rows]
        except (OSError, ValueError, TypeError):
            return None

    def _write_cache(self, key: str, findings: list[Finding]) -> None:
        if self.cache_dir is None:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        target = self.cache_dir / f"{key}.json"
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps([asdict(f) for f in findings]), encoding="utf-8")
        temporary.replace(target)


def findings_of(
    raw: list[RawResult], files: list[ParsedFile], located: Collection[str] = SEVERITY_NAMES
) -> list[Finding]:
    """The results given to the files that state their focus nodes (see
    :func:`_distribute`), each once."""
    return once_each(_distribute(files, raw, located))


def focus_key(node: ox.Term) -> str:
    """A focus node as a :class:`Finding` names it."""
    return compact(to_rdflib(node))


def once_each(per_file: Iterable[list[Finding]]) -> list[Finding]:
    """The findings, sorted; a result two files share is reported at the first."""
    seen: set[tuple[str, ...]] = set()
    out: list[Finding] = []
    for findings in per_file:
        for f in findings:
            identity = (f.focus, f.shape, f.path or "", f.message, f.value or "", f.severity)
            if identity not in seen:
                seen.add(identity)
                out.append(f)
    # Unlocated findings (no line) sort first within their file.
    return sorted(out, key=lambda f: (f.file, f.line or 0, f))


def _distribute(
    owners: list[ParsedFile], raw: list[RawResult], located: Collection[str] = SEVERITY_NAMES
) -> list[list[Finding]]:
    """Each result goes to the files that state its focus node: as a subject, or, for
    a literal focus (a value checked through ``sh:node``), as an object; results of a
    severity in ``located`` also get the line where the file states it.

    Read from each file's N-Triples lines, so a build of 100,000 files never makes
    its triples into Python objects."""
    findings: list[list[Finding]] = [[] for _ in owners]
    if not raw:
        return findings
    keys = [_ox_nt(result.focus) for result in raw]
    wanted_subjects = {
        k.encode() for k, r in zip(keys, raw, strict=True) if not _is_literal(r.focus)
    }
    wanted_values = {k.encode() for k, r in zip(keys, raw, strict=True) if _is_literal(r.focus)}
    subject_files: dict[str, list[int]] = defaultdict(list)
    value_files: dict[str, list[tuple[int, str]]] = defaultdict(list)  # → (file, subject)
    for position, parsed in enumerate(owners):
        body = parsed.ntriples
        # The distinct subjects of the file, found by the regex engine: a Python loop
        # over every line of 100,000 files took most of this function's time.
        for subject in wanted_subjects.intersection(_SUBJECT.findall(body)):
            subject_files[subject.decode()].append(position)
        if wanted_values:
            for line in body.splitlines():
                subject, _, rest = line.partition(b" ")
                value = rest.partition(b" ")[2].removesuffix(b" .")
                if value in wanted_values:
                    holders = value_files[value.decode()]
                    if not holders or holders[-1][0] != position:
                        holders.append((position, subject.decode()))

    def line_of(position: int, subject: str, result: RawResult) -> int | None:
        if result.severity not in located:
            return None
        return owners[position].subject_lines.get(subject)

    for key, result in zip(keys, raw, strict=True):
        if _is_literal(result.focus):
            holders = [
                (position, line_of(position, subject, result))
                for position, subject in value_files.get(key, [])
            ]
        else:
            # A resource stated in none of the files being judged is only seen partially
            # here (its types, for sh:class); its own file's validation judges it.
            holders = [
                (position, line_of(position, key, result))
                for position in subject_files.get(key, [])
            ]
        for position, line in holders:
            findings[position].append(
                Finding(
                    file=owners[position].source.name,
                    line=line,
                    focus=compact(result.focus),
                    shape=compact(result.shape),
                    path=result.path,
                    message=result.message,
                    value=None if result.value is None else compact(result.value),
                    severity=result.severity,
                    component=result.component,
                )
            )
    return findings


def _is_literal(term: rdflib.term.Node) -> bool:
    return isinstance(term, rdflib.Literal)


def _ox_nt(term: rdflib.term.Node) -> str:
    """A term in N-Triples as pyoxigraph writes it (the form of the parsed files)."""
    return str(from_rdflib(term))


def pyshacl_results(data_graph: rdflib.Graph, shapes_graph: rdflib.Graph) -> list[RawResult]:
    """One pyshacl run (the reference: ``advanced=True``, no inference), nested results
    included."""
    import pyshacl  # slow to import; only needed when the reference runs

    _conforms, results, _text = pyshacl.validate(
        data_graph,
        shacl_graph=shapes_graph,
        inference="none",
        allow_warnings=True,
        allow_infos=True,
        advanced=True,
    )
    raw = []
    for result in results.subjects(rdflib.RDF.type, rdflib.URIRef(SH + "ValidationResult")):

        def value_of(name: str, result: rdflib.term.Node = result) -> rdflib.term.Node | None:
            return results.value(result, rdflib.URIRef(SH + name))

        messages = sorted(
            str(m) for m in results.objects(result, rdflib.URIRef(SH + "resultMessage"))
        )
        raw.append(
            RawResult(
                focus=value_of("focusNode"),  # type: ignore[arg-type]
                shape=value_of("sourceShape"),
                path=_path_text(results, value_of("resultPath")),
                value=value_of("value"),
                severity=SEVERITIES.get(str(value_of("resultSeverity")), "Violation"),
                component=compact(value_of("sourceConstraintComponent")).removeprefix("sh:"),
                message=messages[0] if messages else "",
            )
        )
    return raw


_COMPACT_PREFIXES = sorted(
    {**PREFIXES, "desh": BASE + "shapes#"}.items(), key=lambda kv: -len(kv[1])
)


def _rdflib_graph(triples: Iterable[ox.Triple]) -> rdflib.Graph:
    graph = rdflib.Graph()
    for t in triples:
        graph.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    return graph


def compact(term: rdflib.term.Node | None) -> str:
    """An IRI as ``prefix:local`` when a known prefix fits, else as N-Triples."""
    if term is None:
        return ""
    if isinstance(term, rdflib.URIRef):
        text = str(term)
        for prefix, namespace in _COMPACT_PREFIXES:
            local = text[len(namespace) :]
            if text.startswith(namespace) and (prefix == "de" or "/" not in local):
                return f"{prefix}:{text[len(namespace) :]}"
        return f"<{text}>"
    if isinstance(term, rdflib.BNode):
        return f"_:{term}"
    return term.n3()


def _path_text(results: rdflib.Graph, path: rdflib.term.Node | None) -> str | None:
    if path is None:
        return None
    if isinstance(path, rdflib.URIRef):
        return compact(path)
    inverse = results.value(path, rdflib.URIRef(SH + "inversePath"))
    if inverse is not None:
        return f"^{_path_text(results, inverse)}"
    try:
        members = list(rdflib.collection.Collection(results, path))
    except Exception:  # not a list: some other complex path
        members = []
    if members:
        return "/".join(_path_text(results, m) or "?" for m in members)
    return "(complex path)"
