"""The build: parse → validate → reason → load → dumps, published atomically.

``build(settings)`` writes a fresh ``build/builds/<build-id>/`` and only when every
step succeeded switches ``build/current`` to it (the old one becomes
``build/previous``). Any failure removes the half-made directory and leaves the
published build as it was. Work is cached per file under ``build/cache/`` (see
:mod:`.incremental`), a build whose inputs are those of the current build is a
no-op unless forced, and a build after a few changed data files starts from the
published one: its store copied and its inferred graph revised (see :mod:`.rebuild`).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import itertools
import multiprocessing
import operator
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
import pyoxigraph as ox

from defence_engagements.errors import DataError, StoreUnavailableError
from defence_engagements.namespaces import (
    GRAPH_DATA,
    GRAPH_INFERRED,
    GRAPH_LINKS,
    GRAPH_METADATA,
    GRAPH_ONTOLOGY,
    NAMED_GRAPHS,
)
from defence_engagements.pipeline import (
    dump_parts,
    dumps,
    load,
    reason,
    rebuild,
    revise,
    shacl,
    statistics,
    void,
    workspace,
)
from defence_engagements.pipeline.graph_file import GraphFile, line_blocks, write_graph_file
from defence_engagements.pipeline.incremental import (
    AssertedCache,
    HashCache,
    ParseCache,
    ReasoningCache,
)
from defence_engagements.pipeline.parse import (
    ParsedFile,
    SourceFile,
    display_name,
    list_sources,
    parse_turtle,
    read_source,
)
from defence_engagements.pipeline.reach import Reach
from defence_engagements.pipeline.reason import from_rdflib
from defence_engagements.pipeline.validate import (
    Finding,
    SubjectIndex,
    Validator,
    failing,
    fatal_severities,
    findings_of,
    focus_key,
    once_each,
)
from defence_engagements.settings import Settings
from defence_engagements.store import (
    DUMPS_DIRNAME,
    STORE_DIRNAME,
    builds_root,
    cache_root,
    checkpoint_store,
    open_writable_store,
    publish_build,
    read_manifest,
    write_manifest,
)

# Bump when the build's output for the same inputs changes, so --if-stale rebuilds.
PIPELINE_VERSION = "1"
STEPS = ("parse", "validate", "reason", "store", "dumps")


class Progress(Protocol):
    """What the build reports as it goes; the CLI draws progress bars from it."""

    def start(self, step: str, total: int | None) -> None: ...
    def advance(self, amount: int = 1) -> None: ...
    def finish(self, step: str, seconds: float) -> None: ...


class _Silent:
    def start(self, step: str, total: int | None) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass

    def finish(self, step: str, seconds: float) -> None:
        pass


class _Timeline:
    """Passes progress on and remembers when each step ran (wall-clock seconds), so
    that a measurement from outside (memory sampled over time) can be told per step."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.windows: dict[str, list[float]] = {}

    def start(self, step: str, total: int | None) -> None:
        self.windows.setdefault(step, [round(time.time(), 3)] * 2)
        self.progress.start(step, total)

    def advance(self, amount: int = 1) -> None:
        self.progress.advance(amount)

    def finish(self, step: str, seconds: float) -> None:
        self.windows.setdefault(step, [round(time.time(), 3)] * 2)[1] = round(time.time(), 3)
        self.progress.finish(step, seconds)


class ValidationFailedError(DataError):
    """SHACL found violations (or warnings, when strict); carries the findings."""

    def __init__(self, findings: list[Finding], fatal: list[Finding]) -> None:
        files = len({f.file for f in fatal})
        super().__init__(
            f"{len(fatal)} SHACL violation(s) in {files} file(s); nothing was published"
        )
        self.findings = findings
        self.fatal = fatal


@dataclass
class Sources:
    ontology: list[ParsedFile]
    data: list[ParsedFile]
    shapes: list[ParsedFile]

    @property
    def all(self) -> list[ParsedFile]:
        return [*self.ontology, *self.data, *self.shapes]

    @staticmethod
    def triples(files: list[ParsedFile]) -> list[ox.Triple]:
        return [t for parsed in files for t in parsed.triples]


@dataclass
class BuildResult:
    built: bool  # False: nothing changed since the current build
    root: Path | None  # the published build directory
    manifest: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)


def source_files(
    settings: Settings, hashes: HashCache | None = None
) -> dict[str, list[SourceFile]]:
    """Every input file by role, with content hashes: each file read once, or, with
    ``hashes``, only when its size, time or inode says it may have changed."""
    root = settings.repo_root
    found: dict[str, list[SourceFile]] = {}
    for role, directory, recursive in (
        ("ontology", settings.ontology_path, False),
        ("data", settings.data_path, True),
        ("shapes", settings.shapes_path, False),
    ):
        found[role] = [
            hashes.source(path, name, role) if hashes else read_source(Path(path), name, role)[0]
            for path, name in list_sources(directory, root, role, recursive=recursive)
        ]
    if hashes is not None:
        hashes.save({s.location for role in found.values() for s in role})
    return found


def input_hashes(files: dict[str, list[SourceFile]]) -> dict[str, str]:
    return {s.name: s.sha256 for role in files.values() for s in role}


def fingerprint(settings: Settings) -> str:
    """What besides the input files decides the output."""
    return f"pipeline {PIPELINE_VERSION}; base {settings.base_iri}; reasoner {_engine(settings)}"


def _engine(settings: Settings) -> str:
    return settings.reasoner


def is_stale(settings: Settings, inputs: dict[str, str] | None = None) -> bool:
    """Whether the inputs (default: hashed now) differ from those of the current build
    (or there is none)."""
    current = settings.current_build
    if not current.exists():
        return True
    try:
        manifest = read_manifest(current.resolve())
    except StoreUnavailableError:
        return True
    if inputs is None:
        inputs = input_hashes(source_files(settings))
    return manifest.get("inputs") != inputs or manifest.get("pipeline") != fingerprint(settings)


def parse_sources(
    files: dict[str, list[SourceFile]], cache: ParseCache, progress: Progress | None = None
) -> Sources:
    progress = progress or _Silent()
    progress.start("parse", sum(len(v) for v in files.values()))
    parsed: dict[str, list[ParsedFile]] = {}
    missing: list[tuple[str, int]] = []  # (role, position) of the files not in the cache
    for role, sources in files.items():
        parsed[role] = []
        for source in sources:
            result = cache.get(source)
            if result is None:
                missing.append((role, len(parsed[role])))
                result = ParsedFile(source)  # a placeholder until parsed
            else:
                progress.advance()
            parsed[role].append(result)
    fresh = _parse_into_cache([parsed[role][i].source for role, i in missing], cache, progress)
    for (role, position), result in zip(missing, fresh, strict=True):
        parsed[role][position] = result
    return Sources(*(parsed.get(role, []) for role in ("ontology", "data", "shapes")))


# Below this many files to parse, worker processes cost more than they save.
PARALLEL_PARSE_FILES = 2_000
_PARSE_CHUNK = 500


def _parse_into_cache(
    sources: list[SourceFile], cache: ParseCache, progress: Progress
) -> Iterator[ParsedFile]:
    """Each file parsed and put in the cache, in order: by one process per core when
    there are many (a first build of 100,000 files), else here."""
    workers = os.cpu_count() or 1
    if len(sources) < PARALLEL_PARSE_FILES or cache.directory is None or workers < 2:
        for source in sources:
            yield _parse_one(source, cache)
            progress.advance()
        return
    chunks = [sources[i : i + _PARSE_CHUNK] for i in range(0, len(sources), _PARSE_CHUNK)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        for results in pool.map(_parse_chunk, chunks, itertools.repeat(cache)):
            for result in results:
                yield result
                progress.advance()
    cache.reload()  # the workers' packs are in no index this process has read


_worker_caches: dict[Path | None, ParseCache] = {}


def _parse_chunk(sources: list[SourceFile], cache: ParseCache) -> list[ParsedFile]:
    # One cache per worker process, so its parses go to one pack, chunk after chunk.
    cache = _worker_caches.setdefault(cache.directory, cache)
    return [_parse_one(source, cache) for source in sources]


def _parse_one(source: SourceFile, cache: ParseCache) -> ParsedFile:
    # Hashes were taken when listing; parse what is on disk now.
    source_now, content = read_source(source.path, source.name, source.role)
    result = parse_turtle(source_now, content)
    cache.put(result)  # keeps the bytes in the cache, not in memory
    return result


def validate_sources(
    sources: Sources,
    cache_dir: Path | None,
    progress: Progress,
    only: list[ParsedFile] | None = None,
    engine: str = "compiled",
) -> list[Finding]:
    units = only if only is not None else [*sources.ontology, *sources.data]
    validator = Validator(
        Sources.triples(sources.shapes), Sources.triples(sources.ontology), cache_dir, engine
    )
    index = SubjectIndex([*sources.ontology, *sources.data])
    progress.start("validate", len(units))
    return validator.validate_files(units, index, progress=lambda _: progress.advance())


def check(
    settings: Settings, paths: list[Path] | None = None, progress: Progress | None = None
) -> tuple[Sources, list[Finding]]:
    """Parse everything and validate ``paths`` (default: every ontology and data file)."""
    progress = progress or _Silent()
    files = source_files(settings)
    cache_dir = cache_root(settings.build_path)
    sources = parse_sources(files, ParseCache(cache_dir), progress)
    only = None
    if paths:
        by_path = {p.source.path.resolve(): p for p in (*sources.ontology, *sources.data)}
        only = []
        for path in paths:
            parsed = by_path.get(path.resolve())
            if parsed is None:
                source, content = read_source(path, display_name(path, settings.repo_root), "data")
                parsed = parse_turtle(source, content)
                sources.data.append(parsed)
            only.append(parsed)
    findings = validate_sources(
        sources, cache_dir / "validate", progress, only, engine=settings.validator
    )
    return sources, findings


@contextlib.contextmanager
def build_lock(build_dir: Path) -> Iterator[None]:
    """One writer at a time per build directory."""
    build_dir.mkdir(parents=True, exist_ok=True)
    with (build_dir / ".lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise StoreUnavailableError(
                f"{build_dir} is held by another writer (another `engagements build` is running)"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build(
    settings: Settings,
    *,
    force: bool = False,
    strict: bool = False,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    files: dict[str, list[SourceFile]] | None = None,
) -> BuildResult:
    """Build and publish, or do nothing when the inputs are those of the current build.
    ``files``: the source files as listed and hashed already (:mod:`.watch`)."""
    progress = progress or _Silent()
    build_dir = settings.build_path
    with build_lock(build_dir):
        if files is None:
            # Unless forced, a file is read only when its size, time or inode changed.
            hashes = None if force else HashCache(cache_root(build_dir))
            files = source_files(settings, hashes)
        inputs = input_hashes(files)
        if not force and not is_stale(settings, inputs):
            root = settings.current_build.resolve()
            return BuildResult(False, root, read_manifest(root))
        return _build(settings, files, inputs, strict, _Timeline(progress), clock)


def _build(
    settings: Settings,
    files: dict[str, list[SourceFile]],
    inputs: dict[str, str],
    strict: bool,
    progress: _Timeline,
    clock: Callable[[], datetime],
) -> BuildResult:
    cache = ParseCache(cache_root(settings.build_path))
    keys = _Keys.of(settings, files)
    started = time.perf_counter()
    if ReasoningCache(keys.cache_dir).get(keys.reasoning) is None:
        # A rebuild parses the ontology, the shapes and the changed data files only.
        parsed: list[Sources] = []

        def parse_changed(changed: list[SourceFile]) -> list[ParsedFile]:
            few = {"ontology": files["ontology"], "data": changed, "shapes": files["shapes"]}
            parsed.append(parse_sources(few, cache, progress))
            return parsed[-1].data

        revision = _revision_plan(settings, files, keys.engine, cache, parse_changed)
        if revision is not None:
            parsed_in = round(time.perf_counter() - started, 3)
            progress.finish("parse", parsed_in)
            job = _Job(
                settings, files, inputs, strict, progress, clock, parsed[-1], parsed_in, cache, keys
            )
            rebuilt = _rebuild(job, revision)
            if rebuilt is not None:
                return rebuilt
    sources = parse_sources(files, cache, progress)
    load.return_freed_memory()  # the parse's, while the child holds the working store
    parsed_in = round(time.perf_counter() - started, 3)
    progress.finish("parse", parsed_in)
    return _full_build(
        _Job(settings, files, inputs, strict, progress, clock, sources, parsed_in, cache, keys)
    )


@dataclass
class _Job:
    """One build's inputs, as both paths take them."""

    settings: Settings
    files: dict[str, list[SourceFile]]
    inputs: dict[str, str]
    strict: bool
    progress: _Timeline
    clock: Callable[[], datetime]
    sources: Sources  # parsed; in a rebuild, of the data files only those that changed
    parsed_in: float  # seconds the parse took
    cache: ParseCache  # its index read once a build
    keys: _Keys

    def every_data_file(self) -> list[ParsedFile]:
        """Every data file parsed (from the parse cache): what a rebuild rarely needs."""
        return parse_sources({"data": self.files["data"]}, self.cache).data


@dataclass
class _Keys:
    """Where a build's inputs are found in the caches."""

    cache_dir: Path
    engine: str
    asserted: str  # the ontology and data files' names and hashes
    reasoning: str  # the same, and the reasoning engine

    @staticmethod
    def of(settings: Settings, files: dict[str, list[SourceFile]]) -> _Keys:
        engine = _engine(settings)
        asserted = hashlib.sha256(
            "\n".join(f"{s.name} {s.sha256}" for s in (*files["ontology"], *files["data"])).encode()
        ).hexdigest()
        reasoning = hashlib.sha256(f"{engine}\n{asserted}".encode()).hexdigest()
        return _Keys(cache_root(settings.build_path), engine, asserted, reasoning)


def _full_build(job: _Job) -> BuildResult:
    timings: dict[str, float] = {"parse": job.parsed_in}
    asserted = [*job.sources.ontology, *job.sources.data]
    keys = job.keys
    # Two processes, both busy: a child validates and reasons in the working store, then
    # writes what needs the inferred graph, while this process writes the store and what
    # needs only the asserted graphs. When the working store is let go, all its memory
    # goes back to the system (freed memory would otherwise stay with this process, out
    # of reach of the store writer's threads).
    root: Path | None = None
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
            try:
                root, work, dumps_dir, described_as = _new_build(
                    job.settings, job.inputs, job.clock
                )
                job.progress.start("validate", None)
                cached = ReasoningCache(keys.cache_dir).get(keys.reasoning)
                opening = child.submit(_open_working_store, job.sources)
                validation = child.submit(
                    _validate_in_working_store, job.sources, job.settings.validator, job.strict
                )
                started = time.perf_counter()
                store = open_writable_store(root / STORE_DIRNAME)
                # Small calls: the child holds the working store meanwhile (calls of
                # 500,000 lines left this process ~130 MB bigger at the child's peak).
                for iri, parsed in (
                    (GRAPH_ONTOLOGY, job.sources.ontology),
                    (GRAPH_DATA, job.sources.data),
                ):
                    load.load_ntriples(store, iri, (f.ntriples for f in parsed), batch=100_000)
                # Queued behind validation; it does nothing when validation failed.
                reasoning = child.submit(
                    _reason_in_working_store, asserted, keys.engine, work, cached
                )
                storing = time.perf_counter() - started

                # While the child validates: the asserted graphs' files and dumps.
                duplicates: list[bytes] = []
                graph_files, asserted_dumps, dumping = _write_asserted_files(
                    job.sources, work, dumps_dir, duplicates, job.settings.dump_part_subjects
                )
                # Their sorting's and serialising's, before the child's closure peaks
                # (~200 MB at 100,000: the build's peak is the two processes' sum).
                load.return_freed_memory()
                findings, timings["validate"] = validation.result()
                _verdict(job, findings, timings["validate"])

                job.progress.start("reason", None)
                links = opening.result()
                inferred, timings["reason"], reasoned_by = reasoning.result()
                job.progress.finish("reason", timings["reason"])

                job.progress.start("store", None)
                started = time.perf_counter()
                publishing = child.submit(
                    _write_published_files,
                    graph_files,
                    work,
                    inferred,
                    links,
                    described_as,
                    dumps_dir,
                    job.settings.dump_part_subjects,
                )
                inferred_files = inferred.paths if isinstance(inferred, GraphFile) else [inferred]
                load.load_ntriples_files(store, GRAPH_INFERRED, inferred_files)
                load.add_graph(store, GRAPH_LINKS, links)
                # Compacted now, while the child writes the dumps: left as bulk loading
                # leaves it, the store's first compaction falls inside a rebuild a few
                # rebuilds on (rewriting 2.3 GB at 100,000 engagements: 14 s).
                store.optimize()
                storing += time.perf_counter() - started

                started = time.perf_counter()
                made: _Files = publishing.result()
                load.add_graph(store, GRAPH_METADATA, made.description)
                del store  # closes RocksDB before the build is published
                storing += time.perf_counter() - started
                timings["store"] = round(storing, 3)
                job.progress.finish("store", timings["store"])
            except BaseException:
                child.shutdown(cancel_futures=True)  # reasoning queued behind validation
                raise
    except BaseException:
        # Only now: leaving the block waited for the child, which writes into root.
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
        raise
    return _publish(
        job,
        root,
        keys,
        timings,
        _Published(
            made,
            findings,
            duplicates,
            reasoned_by,
            described_as["modified"],
            asserted_dumps=asserted_dumps,
            dumping=dumping,
        ),
    )


def _rebuild(job: _Job, revision: rebuild.Plan) -> BuildResult | None:
    """A build from the last one (see :mod:`.rebuild`), in this process alone: its
    store copied and changed, the inferred graph revised, the focus nodes the change
    can reach validated again (:mod:`.reach`), the data graph's file patched. None,
    leaving nothing behind, when the change needs a whole build."""
    timings: dict[str, float] = {"parse": job.parsed_in}
    keys = job.keys
    root, work, dumps_dir, described_as = _new_build(job.settings, job.inputs, job.clock)
    opened: list[ox.Store] = []  # RocksDB closes when the last reference goes
    last_root = revision.last.store.parent
    early: dumps.DumpWriter | None = None
    try:
        job.progress.start("validate", None)
        started = time.perf_counter()
        # What the last build left beside its manifest, read first: without it, nothing
        # here is of use.
        last_findings = _read_findings(last_root, job.strict)
        figures, runs = _read_counted(last_root)
        target = root / STORE_DIRNAME
        checkpoint_store(revision.last.store, target)
        store = open_writable_store(target)
        opened.append(store)
        change = rebuild.change_in(store, revision)
        # The dumps of the data graph alone need nothing the steps below make: patched
        # by the workers meanwhile (more than half the dumps' work at 100,000).
        last_graphs = (revision.last.data, revision.last.inferred)
        workers = dumps.kept_workers() if _dumps_in_workers(last_graphs) else None
        data_file = rebuild.patch_data_file(revision, change, work / "data.nt")
        last_written = _read_parts(last_root)
        early = dumps.DumpWriter(
            {}, dumps_dir, part_subjects=job.settings.dump_part_subjects, workers=workers
        )
        early.patch(
            {GRAPH_DATA: data_file},
            dumps.dumps_of([GRAPH_DATA]),
            last_root / DUMPS_DIRNAME,
            last_written,
            {GRAPH_DATA: {_subject_key(t) for t in change.removed | change.added}},
        )
        validator = Validator(
            Sources.triples(job.sources.shapes),
            Sources.triples(job.sources.ontology),
            None,
            job.settings.validator,
        )
        if validator.compiled is None:
            raise shacl.Unsupported("pyshacl judges whole graphs only")
        reach = Reach(validator.compiled, keys.cache_dir / "reach" if keys.cache_dir else None)
        asserted_graphs = [ox.NamedNode(GRAPH_ONTOLOGY), ox.NamedNode(GRAPH_DATA)]
        # What the change reaches before it is made (and below, after), and what the
        # changed files state anything about (their findings' lines may have moved).
        changed = change.removed | change.added
        judged = reach.focus_nodes(store, asserted_graphs, changed) | change.subjects
        timings["validate"] = time.perf_counter() - started

        job.progress.start("reason", None)
        started = time.perf_counter()
        inferred_changed = rebuild.revise_store(
            store, change, job.sources.ontology, revision, work / rebuild.REVISED_INFERRED
        )
        timings["reason"] = round(time.perf_counter() - started, 3)
        job.progress.finish("reason", timings["reason"])

        started = time.perf_counter()
        judged |= reach.focus_nodes(store, asserted_graphs, changed)
        findings = _revalidated(
            validator, store, asserted_graphs, judged, change, revision, job, last_findings
        )
        timings["validate"] = round(timings["validate"] + time.perf_counter() - started, 3)
        _verdict(job, findings, timings["validate"])

        job.progress.start("store", None)
        started = time.perf_counter()
        links = load.wikidata_links_in(store, asserted_graphs)
        last_links = _graph_of(store, GRAPH_LINKS)
        store.clear_graph(ox.NamedNode(GRAPH_LINKS))
        load.add_graph(store, GRAPH_LINKS, links)
        changes = {
            GRAPH_DATA: rebuild.GraphChange(change.removed, change.added),
            GRAPH_INFERRED: inferred_changed,
            GRAPH_LINKS: rebuild.GraphChange(last_links - links, links - last_links),
        }
        last = _LastDumps(
            last_root / DUMPS_DIRNAME,
            last_written,
            {
                iri: {_subject_key(t) for t in moved.left | moved.joined}
                for iri, moved in changes.items()
            },
            _graph_of(store, GRAPH_METADATA),
        )
        # The VoID figures and the subjects' runs: the last build's, moved by the change.
        revised = rebuild.Revised(store, changes)
        counted = _Counted(revised.figures(figures, links), revised.runs(runs))
        graph_files = {
            GRAPH_ONTOLOGY: write_graph_file(
                (f.ntriples for f in job.sources.ontology), work / "ontology.nt"
            ),
            GRAPH_DATA: data_file,
        }
        made = _write_published_files(
            graph_files,
            work,
            GraphFile(work / rebuild.REVISED_INFERRED),
            links,
            described_as,
            dumps_dir,
            job.settings.dump_part_subjects,
            last,
            counted,
            early,
        )
        store.clear_graph(ox.NamedNode(GRAPH_METADATA))
        load.add_graph(store, GRAPH_METADATA, made.description)
        del store
        opened.clear()  # closes RocksDB before the build is published
        timings["store"] = round(time.perf_counter() - started, 3)
        job.progress.finish("store", timings["store"])
    except BaseException as failure:
        opened.clear()
        gc.collect()
        if early is not None:
            early.abandon()  # before root goes: they write into it
        shutil.rmtree(root, ignore_errors=True)
        if isinstance(failure, revise.Unsupported | shacl.Unsupported | StoreUnavailableError):
            # The change needs a whole build, or the last build's store cannot be copied:
            # the steps start again.
            for step in ("validate", "reason", "store"):
                job.progress.windows.pop(step, None)
            return None
        raise
    return _publish(
        job,
        root,
        keys,
        timings,
        _Published(
            made,
            findings,
            change.duplicates,
            "revision",
            described_as["modified"],
            superseded=revision.before,
        ),
    )


def _verdict(job: _Job, findings: list[Finding], seconds: float) -> None:
    """The validate step ends: what fails the build fails it here."""
    job.progress.finish("validate", seconds)
    fatal = failing(findings, strict=job.strict)
    if fatal:
        raise ValidationFailedError(findings, fatal)


def _revalidated(
    validator: Validator,
    store: ox.Store,
    graphs: list[ox.NamedNode],
    judged: set[ox.Term],
    change: rebuild.Change,
    revision: rebuild.Plan,
    job: _Job,
    last: list[Finding],
) -> list[Finding]:
    """The last build's findings of the focus nodes the change cannot reach, and new
    ones for those it can (judged in the changed store)."""
    changed = {p.source.name for p in (*revision.before, *revision.after)}
    judged_keys = {focus_key(node) for node in judged}
    kept = [f for f in last if f.file not in changed and f.focus not in judged_keys]
    raw = validator.validate_focus(store, graphs, judged)
    # A finding goes to every file that states its focus node: the changed ones, or
    # when another file may too, any (read from the parse cache, the rare case).
    owners = [*job.sources.ontology, *revision.after]
    if _stated_elsewhere(store, {from_rdflib(r.focus) for r in raw}, revision, change):
        owners = [*job.sources.ontology, *job.every_data_file()]
    fresh = findings_of(raw, owners, located=fatal_severities(strict=job.strict))
    return once_each([kept, fresh])


def _stated_elsewhere(
    store: ox.Store, nodes: set[ox.Term], revision: rebuild.Plan, change: rebuild.Change
) -> bool:
    """Whether a file the change left alone may state something about one of ``nodes``:
    one of its triples in the data graph that the changed files do not state as often
    as it is stated."""
    stated = Counter(
        line for parsed in revision.after for line in parsed.ntriples.splitlines(keepends=True)
    )
    extra = Counter(change.duplicates)
    data = ox.NamedNode(GRAPH_DATA)
    for node in nodes:
        if isinstance(node, ox.Literal):
            return True  # given to the files that state it as a value: look everywhere
        for quad in store.quads_for_pattern(node, None, None, data):
            line = ox.serialize([quad.triple], format=ox.RdfFormat.N_TRIPLES) or b""
            if stated[line] < extra[line] + 1:
                return True
    return False


def _new_build(
    settings: Settings, inputs: dict[str, str], clock: Callable[[], datetime]
) -> tuple[Path, Path, Path, dict[str, str]]:
    """A new build's directory, its work directory (each graph as sorted N-Triples;
    removed once published), its dumps' directory and what describes it in VoID."""
    built_at = clock().replace(microsecond=0)
    build_id = _new_build_id(settings.build_path, built_at, inputs)
    root = builds_root(settings.build_path) / build_id
    root.mkdir(parents=True)
    work = root / ".graphs"
    work.mkdir()
    modified = built_at.isoformat().replace("+00:00", "Z")
    described_as = {"base": settings.base_iri, "version": build_id, "modified": modified}
    return root, work, root / DUMPS_DIRNAME, described_as


@dataclass
class _Published:
    """What a build made, for its manifest and the caches."""

    made: _Files
    findings: list[Finding]
    duplicates: list[bytes]  # the data graph's lines stated more than once
    reasoned_by: str  # "closure", "revision" or "cache"
    built_at: str
    asserted_dumps: dict[str, dumps.Written] = field(default_factory=dict)  # written before
    dumping: float = 0.0  # seconds spent on those
    # A rebuild's changed files as the last build parsed them: the parse cache's
    # entries this build may have left dead (None: a full build, which looks at all).
    superseded: list[ParsedFile] | None = None

    @property
    def dumps(self) -> dict[str, dumps.Written]:
        return {**self.asserted_dumps, **self.made.dumps}


def _publish(
    job: _Job, root: Path, keys: _Keys, timings: dict[str, float], published: _Published
) -> BuildResult:
    """Checksums, manifest and findings written, the graphs' files kept in the caches
    for the next rebuild, and the build made current."""
    work, dumps_dir = root / ".graphs", root / DUMPS_DIRNAME
    try:
        job.progress.start("dumps", None)
        started = time.perf_counter()
        dump_counts = {name: published.dumps[name].count for name in dumps.DUMPS}
        dumps.write_checksums(
            dumps_dir, {name: published.dumps[name].digest for name in dumps.DUMPS}
        )
        _write_parts(root, published.dumps)
        _write_counted(root, published.made.counted)
        counts = {iri: published.made.counted.runs[iri].triples for iri in NAMED_GRAPHS}
        if published.reasoned_by != "cache":
            ReasoningCache(keys.cache_dir).put(
                keys.reasoning, published.made.graph_files[GRAPH_INFERRED]
            )
        AssertedCache(keys.cache_dir).put_with(
            keys.asserted, published.made.graph_files[GRAPH_DATA], published.duplicates
        )
        shutil.rmtree(work)
        timings["dumps"] = round(
            published.dumping + published.made.seconds + time.perf_counter() - started, 3
        )
        job.progress.finish("dumps", timings["dumps"])
        manifest = {
            "version": root.name,
            "built_at": published.built_at,
            "graphs": counts,
            "inputs": job.inputs,
            "timings": timings,
            "reasoning": published.reasoned_by,
            "reasoning_key": keys.reasoning,
            "asserted_key": keys.asserted,
            "pipeline": fingerprint(job.settings),
            "files": {role: len(v) for role, v in job.files.items()},
            "triples": {
                "asserted": counts[GRAPH_ONTOLOGY] + counts[GRAPH_DATA],
                "inferred": counts[GRAPH_INFERRED],
                "links": counts[GRAPH_LINKS],
            },
            "dumps": dump_counts,
            "warnings": sum(1 for f in published.findings if f.severity != "Violation"),
            "subject_bounds": published.made.bounds,
            "timeline": job.progress.windows,  # each step's start and end (Unix time)
        }
        _write_findings(root, published.findings, job.strict)
        write_manifest(root, manifest)
        publish_build(job.settings.build_path, root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    # Published: what is left is housekeeping, under the build lock still.
    live = {s.sha256 for role in job.files.values() for s in role}
    job.cache.compact(live, superseded=published.superseded)
    return BuildResult(True, root, manifest, published.findings)


_FINDINGS = "findings.json"  # beside build.json: what a rebuild keeps of the last verdict
_PARTS = "parts.json"  # beside build.json: each dump's parts, which a rebuild patches
_COUNTED = "counted.json"  # beside build.json: the figures and runs a rebuild moves


def _write_parts(root: Path, written: dict[str, dumps.Written]) -> None:
    body = {name: w._asdict() for name, w in written.items()}
    (root / _PARTS).write_bytes(orjson.dumps(body))


def _read_parts(root: Path) -> dict[str, dumps.Written]:
    """The last build's dumps as written; without them a rebuild writes them whole."""
    try:
        body = orjson.loads((root / _PARTS).read_bytes())
        written = {name: dumps.Written(**fields) for name, fields in body.items()}
        for dump in written.values():
            if dump.index is not None:
                dump_parts.Index.from_json(dump.index)  # an older build's layout fails here
        return written
    except (OSError, ValueError, TypeError):
        return {}


def _write_counted(root: Path, counted: _Counted) -> None:
    body = {
        "figures": asdict(counted.figures),
        "runs": {iri: runs.to_json() for iri, runs in counted.runs.items()},
    }
    (root / _COUNTED).write_bytes(orjson.dumps(body))


def _read_counted(root: Path) -> tuple[void.Figures, dict[str, statistics.Runs]]:
    """The last build's figures and runs; a build without them cannot be revised."""
    try:
        body = orjson.loads((root / _COUNTED).read_bytes())
        runs = {iri: statistics.Runs.from_json(r) for iri, r in body["runs"].items()}
        return void.Figures(**body["figures"]), runs
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise revise.Unsupported(f"the last build's counts: {exc}") from exc


def _graph_of(store: ox.Store, iri: str) -> set[ox.Triple]:
    return {q.triple for q in store.quads_for_pattern(None, None, None, ox.NamedNode(iri))}


def _subject_key(triple: ox.Triple) -> bytes:
    """A subject as its N-Triples lines start (what dump parts are cut by)."""
    return str(triple.subject).encode()


# The findings this process last wrote, by build directory: a process that builds
# again (``engagements watch``) does not read 50,000 of them back (0.3 s at 100,000).
_written_findings: dict[tuple[Path, int, int], tuple[bool, list[Finding]]] = {}


def _findings_file(root: Path) -> tuple[Path, int, int] | None:
    """Which findings.json it is: path, size and time (the memo holds for that one)."""
    try:
        status = (root / _FINDINGS).stat()
    except OSError:
        return None
    return root.resolve(), status.st_size, status.st_mtime_ns


def _write_findings(root: Path, findings: list[Finding], strict: bool) -> None:
    # Rows in the fields' order: a build of 100,000 engagements has 50,000 warnings.
    fields = list(Finding.__dataclass_fields__)
    rows = list(map(operator.attrgetter(*fields), findings))
    body = {"strict": strict, "fields": fields, "findings": rows}
    (root / _FINDINGS).write_bytes(orjson.dumps(body))
    _written_findings.clear()
    written = _findings_file(root)
    if written is not None:
        _written_findings[written] = (strict, findings)


def _read_findings(root: Path, strict: bool) -> list[Finding]:
    """The last build's findings; a build judged otherwise (strict or not: which
    findings have lines) or without them cannot be revised."""
    file = _findings_file(root)
    kept = _written_findings.get(file) if file is not None else None
    if kept is not None and kept[0] == strict:
        findings = kept[1]
    else:
        try:
            body = orjson.loads((root / _FINDINGS).read_bytes())
            if body["strict"] != strict:
                raise revise.Unsupported("the last build was judged with other severities")
            if body["fields"] != list(Finding.__dataclass_fields__):
                raise revise.Unsupported("the last build's findings have other fields")
            findings = [Finding(*row) for row in body["findings"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise revise.Unsupported(f"the last build's findings: {exc}") from exc
    if any(f.focus.startswith('"') for f in findings):
        raise revise.Unsupported("a finding about a literal: its focus nodes are not known")
    return findings


def _dumps_in_workers(graphs: Iterable[GraphFile]) -> bool:
    """Whether a rebuild from these graphs has its dumps patched by the kept workers."""
    return sum(graph.size for graph in graphs) > dumps.PARALLEL_DUMPS_BYTES


def start_rebuild_workers(settings: Settings, result: BuildResult) -> None:
    """Start the dump workers a rebuild from ``result`` would start first, if it would:
    a process that builds again (``engagements watch``) does it after a build, so the
    next edit does not wait for them (~0.9 s of its first rebuild at 100,000)."""
    graphs = _cached_graphs(cache_root(settings.build_path), result.manifest)
    if graphs is not None and _dumps_in_workers(graphs):
        dumps.kept_workers()


def _cached_graphs(cache_dir: Path, manifest: dict[str, Any]) -> tuple[GraphFile, GraphFile] | None:
    """The inferred and data graphs' files of the build ``manifest`` tells of, as the
    caches keep them; None when they are not there."""
    reasoning, asserted = manifest.get("reasoning_key"), manifest.get("asserted_key")
    if not isinstance(reasoning, str) or not isinstance(asserted, str):
        return None
    inferred = ReasoningCache(cache_dir).get(reasoning)
    data = AssertedCache(cache_dir).get(asserted)
    return None if inferred is None or data is None else (inferred, data)


def _revision_plan(
    settings: Settings,
    files: dict[str, list[SourceFile]],
    engine: str,
    cache: ParseCache,
    parse: Callable[[list[SourceFile]], list[ParsedFile]],
) -> rebuild.Plan | None:
    """How the last build can be revised into this one (see :mod:`.rebuild`), or None."""
    current = settings.current_build
    if engine != "rules" or not current.exists():
        return None
    try:
        root = current.resolve()
        previous = read_manifest(root)
    except StoreUnavailableError:
        return None
    if previous.get("pipeline") != fingerprint(settings):
        return None
    cache_dir = cache_root(settings.build_path)
    graphs = _cached_graphs(cache_dir, previous)
    if graphs is None:
        return None
    inferred, data = graphs
    duplicates = AssertedCache(cache_dir).duplicates(previous["asserted_key"])
    if duplicates is None:
        return None
    return rebuild.plan(
        previous,
        rebuild.LastBuild(root / STORE_DIRNAME, inferred, data, duplicates),
        settings.repo_root,
        display_name(settings.data_path, settings.repo_root).rstrip("/") + "/",
        files,
        cache,
        parse,
    )


def _write_asserted_files(
    sources: Sources, work: Path, dumps_dir: Path, duplicates: list[bytes], part_subjects: int
) -> tuple[dict[str, GraphFile], dict[str, dumps.Written], float]:
    """The asserted graphs as sorted N-Triples files in ``work``, the dumps made of
    them alone, their statement counts and the seconds it took; the data graph's lines
    stated more than once go into ``duplicates``."""
    started = time.perf_counter()
    graph_files = {
        GRAPH_ONTOLOGY: write_graph_file(
            (f.ntriples for f in sources.ontology), work / "ontology.nt"
        ),
        GRAPH_DATA: write_graph_file(
            (f.ntriples for f in sources.data),
            work / "data.nt",
            run_lines=250_000,
            duplicates=duplicates,
        ),
    }
    with dumps.DumpWriter(
        graph_files, dumps_dir, parallel=False, part_subjects=part_subjects
    ) as writer:
        writer.write(graph_files, dumps.dumps_of(graph_files))
        written = writer.results()
    return graph_files, written, time.perf_counter() - started


def _new_build_id(build_dir: Path, built_at: datetime, inputs: dict[str, str]) -> str:
    digest = hashlib.sha256(orjson.dumps(inputs, option=orjson.OPT_SORT_KEYS)).hexdigest()[:8]
    stamp = built_at.strftime("%Y%m%dT%H%M%SZ")
    candidate, n = f"{stamp}-{digest}", 1
    while (builds_root(build_dir) / candidate).exists():
        n += 1
        candidate = f"{stamp}-{digest}-{n}"
    return candidate


# --- in the child process that holds the working store -----------------------------------

_working_store: ox.Store | None = None
_failed = False  # validation found what fails the build: reasoning is skipped
_loading_seconds = 0.0


def _open_working_store(sources: Sources) -> set[ox.Triple]:
    """Load every ontology and data file into a new working store; return the links
    (which need the assertions only)."""
    global _working_store, _loading_seconds
    started = time.perf_counter()
    _working_store = workspace.workspace([*sources.ontology, *sources.data])
    _loading_seconds = time.perf_counter() - started
    return load.wikidata_links_in(_working_store, [ox.DefaultGraph()])


def _validate_in_working_store(
    sources: Sources, engine: str, strict: bool
) -> tuple[list[Finding], float]:
    """Judge the working store whole. Returns the findings (with lines for those that
    fail the build) and the seconds it took, the working store's loading included."""
    global _failed
    started = time.perf_counter()
    assert _working_store is not None, "_open_working_store comes first"
    validator = Validator(
        Sources.triples(sources.shapes), Sources.triples(sources.ontology), None, engine
    )
    located = fatal_severities(strict=strict)
    asserted = [*sources.ontology, *sources.data]
    findings = validator.validate_store(_working_store, asserted, located=located)
    _failed = bool(failing(findings, strict=strict))
    del validator
    gc.collect()
    load.return_freed_memory()  # validation's, before reasoning grows the store
    return findings, round(time.perf_counter() - started + _loading_seconds, 3)


def _reason_in_working_store(
    asserted: list[ParsedFile], engine: str, work: Path, cached: GraphFile | None
) -> tuple[Path | GraphFile, float, str]:
    """The inferred graph as an N-Triples file, the seconds it took and how the graph
    was had: ``cached`` (sorted) when there is one, else the closure's, unsorted, in
    ``work``. The working store is released either way."""
    global _working_store
    started = time.perf_counter()
    store, _working_store = _working_store, None
    assert store is not None, "validation loads the working store first"
    if _failed:
        return work, 0.0, "closure"
    if cached is not None:
        return cached, 0.0, "cache"
    reason.infer_in_store(store, asserted, engine=engine)
    unsorted = work / "inferred.unsorted.nt"
    store.dump(unsorted, format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
    del store
    load.return_freed_memory()  # the working store's, before the files are written
    return unsorted, round(time.perf_counter() - started, 3), "closure"


@dataclass
class _LastDumps:
    """What a rebuild patches its dumps from: the last build's, and what changed."""

    directory: Path
    written: dict[str, dumps.Written]
    changed: dict[str, set[bytes]]  # graph → the subjects whose lines changed in it
    description: set[ox.Triple]  # the last build's VoID description


@dataclass
class _Counted:
    """What the VoID figures and the subjects' maxima are counted from: kept beside
    the build (``counted.json``), so a rebuild moves them by its change."""

    figures: void.Figures
    runs: dict[str, statistics.Runs]  # every graph's


@dataclass
class _Files:
    """The published files written, and what was counted in them."""

    graph_files: dict[str, GraphFile]
    description: list[ox.Triple]
    dumps: dict[str, dumps.Written]
    counted: _Counted
    bounds: dict[str, Any]
    seconds: float


def _write_published_files(
    asserted_files: dict[str, GraphFile],
    work: Path,
    inferred: GraphFile | Path,
    links: set[ox.Triple],
    described_as: dict[str, str],
    dumps_dir: Path,
    part_subjects: int,
    last: _LastDumps | None = None,
    counted: _Counted | None = None,
    writer: dumps.DumpWriter | None = None,
) -> _Files:
    """With the asserted graphs' sorted files (and, in a full build, their dumps)
    written: the other graphs as sorted N-Triples files in ``work``, the VoID
    description (its figures counted in all of them, or given: a rebuild moves the last
    ones), the remaining dumps (after a revision, every dump: the ``last`` ones
    patched) and the subjects' triple maxima (pipeline/statistics.py). ``writer``: the
    rebuild's, with the dumps of the data graph started."""
    started = time.perf_counter()
    files = {
        **asserted_files,
        GRAPH_INFERRED: inferred
        if isinstance(inferred, GraphFile)
        else _sorted_file(inferred, work / "inferred.nt"),
        GRAPH_LINKS: write_graph_file(
            ox.serialize(links, format=ox.RdfFormat.N_TRIPLES) or b"", work / "links.nt"
        ),
    }
    written = dumps.dumps_of(asserted_files) if last is None else []
    if writer is not None:
        written += writer.submitted
    remaining = [name for name in dumps.DUMPS if name not in written]
    described = [name for name in remaining if GRAPH_METADATA in dumps.DUMPS[name][0]]

    def write(names: list[str]) -> None:
        if last is None:
            writer.write(files, names)
        else:
            writer.patch(files, names, last.directory, last.written, last.changed)

    with writer or dumps.DumpWriter(files, dumps_dir, part_subjects=part_subjects) as writer:
        # The workers start on what needs no description while this process counts it.
        write([name for name in remaining if name not in described])
        if counted is None:
            runs = writer.run(statistics.subject_runs, dict(files))
            counted = _Counted(void.figures_of(files), {})
        description = void.describe(counted.figures, dumps=dumps.DUMP_NAMES, **described_as)
        files[GRAPH_METADATA] = write_graph_file(
            ox.serialize(description, format=ox.RdfFormat.N_TRIPLES) or b"", work / "void.nt"
        )
        if last is not None:
            moved = last.description ^ set(description)
            last.changed[GRAPH_METADATA] = {str(t.subject).encode() for t in moved}
        write(described)
        if not counted.runs:
            counted.runs = runs.result()
        counted.runs.update(statistics.subject_runs({GRAPH_METADATA: files[GRAPH_METADATA]}))
        results = writer.results()
    bounds = statistics.subject_bounds(counted.runs)
    return _Files(
        files, description, results, counted, bounds, round(time.perf_counter() - started, 3)
    )


def _sorted_file(unsorted: Path, target: Path) -> GraphFile:
    with unsorted.open("rb") as handle:
        return write_graph_file(line_blocks(handle), target)
