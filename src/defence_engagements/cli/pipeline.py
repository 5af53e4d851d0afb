"""`engagements validate | build | watch | rollback | query | new | stats | dump`."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
from collections import defaultdict
from dataclasses import asdict
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pyoxigraph as ox
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from defence_engagements.cli import app, report_error, state
from defence_engagements.dump_files import DumpFile, dumps_in
from defence_engagements.errors import ConfigurationError, EngagementsError, QuerySyntaxError
from defence_engagements.namespaces import GRAPH, NAMED_GRAPHS, PREFIXES, SLUG_PATTERN
from defence_engagements.settings import Settings, load_settings
from defence_engagements.store import DUMPS_DIRNAME, open_published_build
from defence_engagements.store import rollback as rollback_build

if TYPE_CHECKING:
    from defence_engagements.pipeline import BuildResult
    from defence_engagements.pipeline.validate import Finding

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class ReportFormat(StrEnum):
    text = "text"
    json = "json"


class QueryFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    tsv = "tsv"
    turtle = "turtle"


class RichProgress:
    """Progress bars on stderr for steps that run longer than a second."""

    DELAY = 1.0

    def __init__(self, quiet: bool, *, timings: bool = True) -> None:
        self.quiet = quiet
        self.timings = timings
        self.progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
        self.task: int | None = None
        self.timer: threading.Timer | None = None
        self.shown = False

    def start(self, step: str, total: int | None) -> None:
        self._stop()
        if self.quiet:
            return
        self.task = self.progress.add_task(step, total=total)
        self.timer = threading.Timer(self.DELAY, self._show)
        self.timer.daemon = True
        self.timer.start()

    def _show(self) -> None:
        if not self.shown and err_console.is_terminal:
            self.shown = True
            self.progress.start()

    def advance(self, amount: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, amount)

    def finish(self, step: str, seconds: float) -> None:
        self._stop()
        if not self.quiet and self.timings:
            err_console.print(f"  {step:<9} {seconds:7.2f} s")

    def _stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
        if self.shown:
            self.progress.stop()
            self.shown = False


def _settings() -> Settings:
    return load_settings()


# ---------------------------------------------------------------- validate


def print_findings(findings: list[Finding], out: Console) -> None:
    """Grouped by file, in line order: where, severity, shape, path, value, message."""
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_file[finding.file].append(finding)
    for file in sorted(by_file):
        out.print(f"[bold]{escape(file)}[/]")
        for f in sorted(by_file[file], key=lambda f: (f.line or 0, f.focus, f.shape)):
            colour = "red" if f.severity == "Violation" else "yellow"
            out.print(
                f"  {escape(f.location)}: [{colour}]{f.severity.lower()}[/] {escape(f.focus)}",
                soft_wrap=True,
            )
            details = [f"shape {f.shape}"]
            if f.path:
                details.append(f"path {f.path}")
            if f.value:
                details.append(f"value {f.value}")
            out.print(f"    {escape(', '.join(details))}", soft_wrap=True)
            out.print(f"    {escape(f.message)}", soft_wrap=True)


def _findings_json(findings: list[Finding], strict: bool) -> str:
    from defence_engagements.pipeline.validate import failing

    return json.dumps(
        {
            "conforms": not failing(findings, strict=strict),
            "violations": sum(f.severity == "Violation" for f in findings),
            "warnings": sum(f.severity == "Warning" for f in findings),
            "findings": [asdict(f) for f in findings],
        },
        indent=2,
    )


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Turtle files to validate (default: all of ontology/ and data/)."),
    ] = None,
    format: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="Report as text or JSON.")
    ] = ReportFormat.text,
    strict: Annotated[bool, typer.Option(help="Warnings fail too.")] = False,
) -> None:
    """Parse and SHACL-validate; report each finding at the file and line of its focus node.

    Exits 1 when there are violations (or, with --strict, warnings).
    """
    from defence_engagements import pipeline  # heavy (rdflib, pyshacl): only when used
    from defence_engagements.pipeline.validate import failing

    for path in paths or ():
        if not path.is_file():
            raise ConfigurationError(f"{path}: no such file")
    _, findings = pipeline.check(_settings(), paths, RichProgress(state.quiet, timings=False))
    fatal = failing(findings, strict=strict)
    if format is ReportFormat.json:
        sys.stdout.write(_findings_json(findings, strict) + "\n")
    else:
        print_findings(findings, console)
        if not state.quiet:
            violations = sum(f.severity == "Violation" for f in findings)
            console.print(
                f"{violations} violation(s), {len(findings) - violations} warning(s)"
                + (": ok" if not fatal else "")
            )
    if fatal:
        raise typer.Exit(1)


# ---------------------------------------------------------------- build


@app.command()
def build(
    if_stale: Annotated[
        bool,
        typer.Option(
            "--if-stale", help="Build only when the inputs changed (the default; for `make serve`)."
        ),
    ] = False,
    force: Annotated[bool, typer.Option(help="Build even when nothing changed.")] = False,
    strict: Annotated[bool, typer.Option(help="SHACL warnings fail the build too.")] = False,
) -> None:
    """Validate, reason, write the store and the dumps, then publish atomically.

    The new build goes to build/builds/<id>/; build/current switches to it only when
    every step succeeded (the old one stays as build/previous). Unchanged inputs: no-op.
    """
    from defence_engagements import pipeline

    settings = _settings()
    progress = RichProgress(state.quiet)
    try:
        result = pipeline.build(
            settings, force=force and not if_stale, strict=strict, progress=progress
        )
    except pipeline.ValidationFailedError as failure:
        print_findings(failure.fatal, err_console)
        raise
    finally:
        progress._stop()
    _report_build(result, settings)


def _report_build(result: BuildResult, settings: Settings) -> None:
    manifest = result.manifest
    if not result.built:
        if not state.quiet:
            console.print(f"nothing changed since build {manifest['version']}: no build needed")
        return
    if state.quiet:
        return
    warnings = [f for f in result.findings if f.severity != "Violation"]
    if warnings:
        console.print(f"{len(warnings)} warning(s) (engagements validate shows them)")
    files = manifest["files"]
    triples = manifest["triples"]
    how = INFERRED_HOW.get(manifest.get("reasoning", ""), "")
    console.print(
        f"built {manifest['version']}: {sum(files.values())} files "
        f"({files['ontology']} ontology, {files['data']} data, {files['shapes']} shapes); "
        f"{triples['asserted']} asserted, {triples['inferred']} inferred{how}, "
        f"{triples['links']} link triples; {sum(manifest['timings'].values()):.1f} s"
    )
    console.print(f"published at {settings.current_build} -> {result.root}")


INFERRED_HOW = {
    "revision": " (revised from the last build)",
    "cache": " (as cached for these inputs)",
}


@app.command()
def watch(
    strict: Annotated[bool, typer.Option(help="SHACL warnings fail the build too.")] = False,
) -> None:
    """Build when the sources changed, then again each time they change, until Ctrl-C.

    One process stays, and the file system tells it which files changed: a rebuild
    hashes those only, not every file. A failed build is reported and the published
    one stays; the watch goes on.
    """
    from defence_engagements import pipeline
    from defence_engagements.pipeline.watch import watch_sources

    settings = _settings()
    progress = RichProgress(state.quiet)
    # Ctrl-C is how a watch ends, whenever it comes: while the watch waits (watchfiles
    # ends it) or during a build (interrupted, it leaves the published build as it was).
    with contextlib.suppress(KeyboardInterrupt):
        for outcome in watch_sources(settings, strict=strict, progress=progress):
            progress._stop()
            if isinstance(outcome, pipeline.ValidationFailedError):
                print_findings(outcome.fatal, err_console)
            if isinstance(outcome, EngagementsError):
                report_error(outcome)
                continue
            _report_build(outcome, settings)
            sys.stdout.flush()


@app.command()
def rollback() -> None:
    """Publish the previous build again (current and previous swap)."""
    settings = _settings()
    now, before = rollback_build(settings.build_path)
    if not state.quiet:
        console.print(f"current -> {now.name} (previous -> {before.name})")


# ---------------------------------------------------------------- query


_RESULT_FORMATS = {
    QueryFormat.json: ox.QueryResultsFormat.JSON,
    QueryFormat.csv: ox.QueryResultsFormat.CSV,
    QueryFormat.tsv: ox.QueryResultsFormat.TSV,
}


@app.command()
def query(
    text: Annotated[str | None, typer.Argument(help="A SPARQL query.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the query from a .rq file.")
    ] = None,
    format: Annotated[
        QueryFormat, typer.Option("--format", help="Output format.")
    ] = QueryFormat.table,
) -> None:
    """Run a read-only SPARQL query over the published build (default graph = all graphs)."""
    if (text is None) == (file is None):
        raise ConfigurationError("give a query or --file FILE.rq (one of the two)")
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"{file}: cannot read the query ({exc.strerror})") from exc
    assert text is not None
    published = open_published_build(_settings().current_build)
    try:
        result = published.store.query(text, prefixes=PREFIXES, use_default_graph_as_union=True)
    except SyntaxError as exc:
        raise QuerySyntaxError(f"the query does not parse: {exc}") from exc
    except OSError as exc:
        raise QuerySyntaxError(f"the query failed: {exc}") from exc
    out = sys.stdout.buffer
    if isinstance(result, bool):
        if format is QueryFormat.json:
            out.write(json.dumps({"head": {}, "boolean": result}).encode() + b"\n")
        else:
            console.print("true" if result else "false")
        return
    if isinstance(result, ox.QueryTriples):
        fmt = ox.RdfFormat.TURTLE if format in (QueryFormat.turtle, QueryFormat.table) else None
        if fmt is None:
            raise ConfigurationError("CONSTRUCT and DESCRIBE results come as --format turtle")
        out.write(ox.serialize(result, format=fmt, prefixes=PREFIXES) or b"")
        return
    if format is QueryFormat.turtle:
        raise ConfigurationError("SELECT results come as table, json, csv or tsv")
    if format in _RESULT_FORMATS:
        out.write(result.serialize(format=_RESULT_FORMATS[format]) or b"")
        return
    variables = [v.value for v in result.variables]
    table = Table(*variables, show_lines=False, box=None)
    rows = 0
    for solution in result:
        table.add_row(
            *(escape(_short(solution[v])) if solution[v] is not None else "" for v in variables)
        )
        rows += 1
    console.print(table)
    if not state.quiet:
        err_console.print(f"{rows} row(s)")


def _short(term: ox.Term) -> str:
    if isinstance(term, ox.NamedNode):
        for prefix, namespace in sorted(PREFIXES.items(), key=lambda kv: -len(kv[1])):
            if term.value.startswith(namespace) and "/" not in term.value[len(namespace) :]:
                return f"{prefix}:{term.value[len(namespace) :]}"
        return f"<{term.value}>"
    if isinstance(term, ox.Literal):
        return term.value
    return str(term)


# ---------------------------------------------------------------- stats


@app.command()
def stats(
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="text or json")] = (
        ReportFormat.text
    ),
) -> None:
    """What the published build holds: triples per named graph, instances per class."""
    published = open_published_build(_settings().current_build)
    store = published.store
    graphs = {}
    for iri in NAMED_GRAPHS:
        rows = store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}")
        graphs[iri] = int(next(iter(rows))["n"].value)
    classes = {
        row["c"].value: int(row["n"].value)
        for row in store.query(
            "SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?c FILTER(isIRI(?c)) } "
            "GROUP BY ?c ORDER BY DESC(?n) ?c",
            use_default_graph_as_union=True,
        )
    }
    if format is ReportFormat.json:
        payload = {"version": published.version, "graphs": graphs, "classes": classes}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    console.print(f"build {published.version} ({published.built_at})")
    table = Table("graph", "triples", box=None)
    for iri, n in graphs.items():
        table.add_row(iri.removeprefix(GRAPH), str(n))
    console.print(table)
    table = Table("class", "instances", box=None)
    for iri, n in classes.items():
        table.add_row(escape(_short(ox.NamedNode(iri))), str(n))
    console.print(table)


@app.command()
def dump(
    name: Annotated[str, typer.Argument(help="A dump's name, as /dumps/ lists it")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: stdout)")
    ] = None,
) -> None:
    """One dump of the published build, whole (the build keeps each in pieces)."""
    dumps_dir = _settings().current_build / DUMPS_DIRNAME
    found = DumpFile.at(dumps_dir / name) if "/" not in name and name != ".." else None
    if found is None:
        names = ", ".join(d.name for d in dumps_in(dumps_dir)) or "none: run `engagements build`"
        raise ConfigurationError(f"there is no dump called {name!r} (dumps: {names})")
    if output is not None:
        found.copy_to(output)
        return
    with found.open() as source:
        while chunk := source.read(1 << 20):
            sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


# ---------------------------------------------------------------- new

new_app = typer.Typer(help="Start a new source file from a template.", no_args_is_help=True)
app.add_typer(new_app, name="new")

_DATE_PRECISION = [
    (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "xsd:date", "time:unitDay"),
    (re.compile(r"^\d{4}-\d{2}$"), "xsd:gYearMonth", "time:unitMonth"),
    (re.compile(r"^\d{4}$"), "xsd:gYear", "time:unitYear"),
]


def _ask(value: str | None, label: str) -> str:
    if value:
        return value
    if not sys.stdin.isatty():
        raise ConfigurationError(f"missing {label}: give it as an option (see --help)")
    return str(typer.prompt(label))


def _ask_many(values: list[str] | None, label: str) -> list[str]:
    if values:
        return values
    return [v.strip() for v in _ask(None, f"{label} (comma-separated)").split(",") if v.strip()]


def _turtle_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a valid Turtle STRING_LITERAL_QUOTE


@new_app.command("engagement")
def new_engagement(
    slug: Annotated[
        str | None, typer.Option(help="File and IRI slug, e.g. 2025-03-01-x-visit-to-y.")
    ] = None,
    label: Annotated[str | None, typer.Option(help="Name, in English.")] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--class",
            help="Meeting, Visit, Conference, Summit, AgreementSigning, Announcement or Dialogue.",
        ),
    ] = None,
    engagement_type: Annotated[
        str | None,
        typer.Option(
            "--type", help="Engagement type slug (ontology/engagement-types.ttl), e.g. consult."
        ),
    ] = None,
    status: Annotated[str | None, typer.Option(help="Held, Expected or Planned.")] = None,
    start_date: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD, YYYY-MM or YYYY, as precise as the source.")
    ] = None,
    participant: Annotated[
        list[str] | None,
        typer.Option(help="person/<slug> or organization/<slug>; repeatable."),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Source document slug (data/sources.ttl).")
    ] = None,
    quote: Annotated[
        str | None,
        typer.Option(help="An evidence quote, copied character for character from the source."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write data/engagements/<slug>.ttl with every required field, then validate it."""
    from defence_engagements import pipeline
    from defence_engagements.pipeline.validate import failing

    settings = _settings()
    slug = _ask(slug, "slug")
    if not SLUG_PATTERN.match(slug):
        raise ConfigurationError(f"slug {slug!r}: use lower-case letters, digits and hyphens")
    target = settings.data_path / "engagements" / f"{slug}.ttl"
    if target.exists() and not force:
        raise ConfigurationError(f"{target} exists (use --force to overwrite)")
    label = _ask(label, "label")
    kind = _ask(
        kind, "class (Meeting, Visit, Conference, Summit, AgreementSigning, Announcement, Dialogue)"
    )
    engagement_type = _ask(engagement_type, "engagement type slug")
    status = _ask(status, "status (Held, Expected, Planned)").capitalize()
    start_date = _ask(start_date, "start date (YYYY-MM-DD, YYYY-MM or YYYY)")
    participants = _ask_many(participant, "participants (person/<slug> or organization/<slug>)")
    source = _ask(source, "source slug")
    quote = _ask(quote, "evidence quote")
    for name in (engagement_type, source):
        if not SLUG_PATTERN.match(name):
            raise ConfigurationError(f"{name!r} is not a slug")
    for who in participants:
        if not re.fullmatch(r"(person|organization)/[a-z0-9]+(?:-[a-z0-9]+)*", who):
            raise ConfigurationError(
                f"participant {who!r}: write person/<slug> or organization/<slug>"
            )
    matching = [(dt, unit) for pattern, dt, unit in _DATE_PRECISION if pattern.match(start_date)]
    if not matching:
        raise ConfigurationError(f"start date {start_date!r}: write YYYY-MM-DD, YYYY-MM or YYYY")
    datatype, precision = matching[0]
    if not re.fullmatch(r"[A-Z][A-Za-z]+", kind) or not re.fullmatch(r"[A-Z][a-z]+", status):
        raise ConfigurationError("--class and --status are names like Meeting and Held")

    engagement = f"engagement:{slug}"
    quote_iri = f"quote:{slug}-evidence"
    people = ", ".join(f"<{PREFIXES['de']}{p}>" for p in participants)
    prefix_lines = "".join(
        f"@prefix {p}: <{PREFIXES[p]}> .\n"
        for p in ("dex", "rdfs", "xsd", "dcterms", "prov", "time", "oa")
    )
    body = (
        prefix_lines
        + "".join(
            f"@prefix {kind_}: <{PREFIXES['de']}{kind_}/> .\n"
            for kind_ in ("engagement", "quote", "source")
        )
        + f"@prefix etype: <{PREFIXES['de']}engagement-type/> .\n"
        + f"\n# Created by `engagements new engagement` on {date.today().isoformat()}.\n"
        + "# Check every statement against the source before committing.\n\n"
        + f"{engagement} a dex:{kind} ;\n"
        + f"    rdfs:label {_turtle_string(label)}@en ;\n"
        + f"    dex:engagementType etype:{engagement_type} ;\n"
        + f"    dex:status dex:Status{status} ;\n"
        + f'    dex:startDate "{start_date}"^^{datatype} ; dex:datePrecision {precision} ;\n'
        + f"    dex:participant {people} ;\n"
        + f"    prov:wasDerivedFrom source:{source} ;\n"
        + f"    dex:evidenceQuote {quote_iri} .\n\n"
        + f"{quote_iri} a dex:Quote ;\n"
        + f"    oa:exact {_turtle_string(quote)} ;\n"
        + f"    dex:quotedFrom source:{source} .\n"
    )
    _check_terms(settings, kind, engagement_type, status)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    _, findings = pipeline.check(settings, [target])
    print_findings(findings, console)
    if failing(findings):
        err_console.print(f"wrote {target}; fix the violations above before building")
        raise typer.Exit(1)
    if not state.quiet:
        console.print(f"wrote {target}: valid")


def _check_terms(settings: Settings, kind: str, engagement_type: str, status: str) -> None:
    """The class, type and status must be terms the ontology defines (a typo would
    otherwise give an engagement no shape targets)."""
    from defence_engagements import pipeline
    from defence_engagements.pipeline.incremental import ParseCache

    files = {"ontology": pipeline.source_files(settings)["ontology"]}
    ontology = pipeline.parse_sources(
        {**files, "data": [], "shapes": []},
        ParseCache(settings.build_path / "cache"),
    ).ontology
    store = ox.Store()
    store.extend(ox.Quad(t.subject, t.predicate, t.object) for f in ontology for t in f.triples)
    dex, de = PREFIXES["dex"], PREFIXES["de"]
    checks = {
        f"--class {kind}": f"ASK {{ <{dex}{kind}> rdfs:subClassOf+ <{dex}Engagement> }}",
        f"--type {engagement_type}": f"ASK {{ <{de}engagement-type/{engagement_type}> a ?c }}",
        f"--status {status}": f"ASK {{ <{dex}Status{status}> a <{dex}EngagementStatus> }}",
    }
    for option, ask in checks.items():
        if not store.query(ask, prefixes=PREFIXES):
            raise ConfigurationError(f"{option}: not defined in {settings.ontology_dir}/")
