"""The build on the fixture tree: atomic publishing, dumps against VoID and the store,
incremental equals from scratch, failures leave the published build untouched."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from pipeline_support import REPO_ROOT, make_tree
from rdflib.compare import isomorphic

from defence_engagements import pipeline
from defence_engagements.dump_files import DumpFile
from defence_engagements.namespaces import (
    GRAPH_DATA,
    GRAPH_INFERRED,
    GRAPH_LINKS,
    GRAPH_METADATA,
    ID,
    NAMED_GRAPHS,
    PREFIXES,
)
from defence_engagements.pipeline import dumps, void
from defence_engagements.pipeline.parse import ParsedFile
from defence_engagements.settings import Settings
from defence_engagements.store import open_published_build, read_manifest

VOID = "http://rdfs.org/ns/void#"


def _count(store: ox.Store, query: str) -> int:
    return int(next(iter(store.query(query)))["n"].value)


def _graph(store: ox.Store, iri: str) -> set[ox.Triple]:
    return {q.triple for q in store.quads_for_pattern(None, None, None, ox.NamedNode(iri))}


def test_build_publishes_store_dumps_and_manifest(tree: Settings) -> None:
    result = pipeline.build(tree)
    assert result.built and tree.current_build.resolve() == result.root
    manifest = result.manifest
    assert set(manifest) >= {"version", "built_at", "graphs", "inputs", "timings"}
    assert manifest["version"] == result.root.name
    assert set(manifest["graphs"]) == set(NAMED_GRAPHS)
    assert set(manifest["timings"]) == set(pipeline.STEPS)
    assert "data/engagements/first-meeting.ttl" in manifest["inputs"]

    build = open_published_build(tree.current_build)
    store = build.store
    for iri, n in manifest["graphs"].items():
        assert _count(store, f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}") == n
    # Reasoning ran (subclass, domain, subproperty) and links were generated from records.
    inferred = _graph(store, GRAPH_INFERRED)
    meeting = ox.NamedNode("https://w3id.org/defence-engagements/id/engagement/first-meeting")
    engagement = ox.NamedNode("https://w3id.org/defence-engagements/def#Engagement")
    assert ox.Triple(meeting, ox.NamedNode(void.RDF + "type"), engagement) in inferred
    links = _graph(store, GRAPH_LINKS)
    assert {t.predicate.value for t in links} == {
        "http://www.w3.org/2002/07/owl#sameAs",
        "http://www.w3.org/2004/02/skos/core#exactMatch",
    }
    assert not any(t.subject == t.object for t in links)
    # The union default graph sees data, inferences and ontology without GRAPH clauses.
    ask = "ASK { ?m a dex:Engagement ; rdfs:label ?l . dex:Meeting rdfs:subClassOf ?c }"
    assert store.query(
        ask,
        use_default_graph_as_union=True,
        prefixes=PREFIXES,
    )

    dumps_dir = build.dumps_dir
    assert sorted(p.name for p in dumps_dir.iterdir()) == sorted(dumps.DUMP_NAMES)
    _check_dumps(dumps_dir, store)
    assert not any((tree.build_path / "builds").glob("*.tmp"))


def _dump(directory: Path) -> bytes:
    """A dump's bytes, read whole from its pieces."""
    return DumpFile.of(directory).read_bytes()


def _check_dumps(dumps_dir: Path, store: ox.Store) -> None:
    # SHA256SUMS verifies every file.
    for line in _dump(dumps_dir / "SHA256SUMS").decode().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256(_dump(dumps_dir / name)).hexdigest() == digest
    # Each dump parses with both parsers and holds what its graphs hold in the store.
    for name, (graphs, fmt) in dumps.DUMPS.items():
        raw = _dump(dumps_dir / name)
        body = gzip.decompress(raw) if name.endswith(".gz") else raw
        parsed = list(ox.parse(input=body, format=fmt))
        if fmt == ox.RdfFormat.N_QUADS:
            expected = sum(len(_graph(store, g)) for g in graphs)
            assert len(parsed) == expected, name
            rdflib.Dataset().parse(data=body, format="nquads")
            continue
        union: set[ox.Triple] = set()
        for g in graphs:
            union |= _graph(store, g)
        assert len({q.triple for q in parsed}) == len(union), name
        rdf_format = {"ttl": "turtle", "gz": "nt", "jsonld": "json-ld", "rdf": "xml"}
        graph = rdflib.Graph().parse(data=body, format=rdf_format[name.rsplit(".", 1)[1]])
        assert len(graph) == len(union), name
    # The Turtle dump round-trips to an isomorphic graph.
    data_ttl = _dump(dumps_dir / "engagements.ttl")
    first = rdflib.Graph().parse(data=data_ttl, format="turtle")
    again = rdflib.Graph().parse(data=first.serialize(format="turtle"), format="turtle")
    assert isomorphic(first, again)
    assert b"@prefix dex:" in data_ttl
    # Every VoID figure equals a COUNT query over the store.
    description = rdflib.Graph().parse(data=_dump(dumps_dir / "void.ttl"), format="turtle")
    dataset = rdflib.URIRef(void.dataset_iri("https://w3id.org/defence-engagements/"))

    def figure(subject: rdflib.term.Node, name: str) -> int:
        return int(description.value(subject, rdflib.URIRef(VOID + name)))

    frm = " ".join(f"FROM <{g}>" for g in void.CONTENT_GRAPHS)
    direct = {
        "triples": f"SELECT (COUNT(*) AS ?n) {frm} {{ SELECT DISTINCT ?s ?p ?o {{ ?s ?p ?o }} }}",
        "classes": f"SELECT (COUNT(DISTINCT ?c) AS ?n) {frm} {{ ?s a ?c }}",
        "properties": f"SELECT (COUNT(DISTINCT ?p) AS ?n) {frm} {{ ?s ?p ?o }}",
        "entities": f"SELECT (COUNT(DISTINCT ?s) AS ?n) {frm} {{ ?s ?p ?o "
        f'FILTER STRSTARTS(STR(?s), "{ID}") }}',
        "distinctSubjects": f"SELECT (COUNT(DISTINCT ?s) AS ?n) {frm} {{ ?s ?p ?o }}",
        "distinctObjects": f"SELECT (COUNT(DISTINCT ?o) AS ?n) {frm} {{ ?s ?p ?o }}",
    }
    for name, query in direct.items():
        assert figure(dataset, name) == _count(store, query), name
    partitions = list(description.objects(dataset, rdflib.URIRef(VOID + "classPartition")))
    assert partitions
    for partition in partitions:
        cls = description.value(partition, rdflib.URIRef(VOID + "class"))
        query = f"SELECT (COUNT(DISTINCT ?s) AS ?n) {frm} {{ ?s a <{cls}> }}"
        assert figure(partition, "entities") == _count(store, query)
    for partition in description.objects(dataset, rdflib.URIRef(VOID + "propertyPartition")):
        prop = description.value(partition, rdflib.URIRef(VOID + "property"))
        query = f"SELECT (COUNT(*) AS ?n) {frm} {{ SELECT DISTINCT ?s ?o {{ ?s <{prop}> ?o }} }}"
        assert figure(partition, "triples") == _count(store, query)
    linksets = list(description.subjects(rdflib.RDF.type, rdflib.URIRef(VOID + "Linkset")))
    assert len(linksets) == 2
    assert sum(figure(ls, "triples") for ls in linksets) == len(_graph(store, GRAPH_LINKS))
    for predicate in ("dataDump", "sparqlEndpoint", "uriSpace", "vocabulary"):
        assert description.value(dataset, rdflib.URIRef(VOID + predicate)) is not None
    # The metadata graph holds the same description.
    assert len(_graph(store, GRAPH_METADATA)) == len(description)


def test_unchanged_inputs_are_a_no_op(tree: Settings) -> None:
    first = pipeline.build(tree)
    second = pipeline.build(tree)
    assert not second.built and second.root == first.root
    forced = pipeline.build(tree, force=True)
    assert forced.built and forced.root != first.root
    assert tree.previous_build.resolve() == first.root


def _content(settings: Settings) -> dict[str, set[ox.Triple]]:
    build = open_published_build(settings.current_build)
    graphs = {g: _graph(build.store, g) for g in NAMED_GRAPHS if g != GRAPH_METADATA}
    # The description differs only in its version and date.
    volatile = {
        "http://purl.org/dc/terms/modified",
        "http://www.w3.org/2002/07/owl#versionInfo",
        "http://www.w3.org/ns/dcat#version",
    }
    graphs[GRAPH_METADATA] = {
        t for t in _graph(build.store, GRAPH_METADATA) if t.predicate.value not in volatile
    }
    return graphs


def test_incremental_rebuild_equals_from_scratch(tree: Settings, tmp_path: Path) -> None:
    pipeline.build(tree)
    changed = tree.data_path / "engagements" / "second-meeting.ttl"
    changed.write_text(
        changed.read_text().replace('"Second meeting"@en', '"Second meeting, renamed"@en')
        + "engagement:second-meeting dex:host person:bob .\n"
    )
    validated: list[str] = []

    class Recorder:
        def start(self, step: str, total: int | None) -> None:
            pass

        def advance(self, amount: int = 1) -> None:
            pass

        def finish(self, step: str, seconds: float) -> None:
            validated.append(step)

    incremental = pipeline.build(tree, progress=Recorder())
    assert incremental.built
    assert incremental.manifest["reasoning"] == "revision"
    # Only the changed file (and files that see it) needed a parse and a pyshacl run.
    from defence_engagements.pipeline.incremental import ParseCache

    cache = ParseCache(tree.build_path / "cache")
    assert all(
        cache.get(s) is not None for role in pipeline.source_files(tree).values() for s in role
    )

    scratch = make_tree(tmp_path / "scratch")
    shutil.copy(changed, scratch.data_path / "engagements" / "second-meeting.ttl")
    assert not (scratch.build_path / "cache").exists()
    pipeline.build(scratch)
    assert _content(tree) == _content(scratch)
    label = ox.Literal("Second meeting, renamed", language="en")
    assert any(t.object == label for t in _content(tree)[GRAPH_DATA])


def test_incremental_validation_reruns_only_what_changed(tree: Settings) -> None:
    from defence_engagements.pipeline.incremental import ParseCache
    from defence_engagements.pipeline.validate import SubjectIndex, Validator

    pipeline.build(tree)
    changed = tree.data_path / "engagements" / "second-meeting.ttl"
    changed.write_text(changed.read_text() + "# a comment changes the bytes, not the graph\n")
    files = pipeline.source_files(tree)
    parse_cache = ParseCache(tree.build_path / "cache")
    sources = pipeline.parse_sources(files, parse_cache, pipeline._Silent())
    assert parse_cache.misses == 1 and parse_cache.hits == len(sources.all) - 1
    validator = Validator(
        pipeline.Sources.triples(sources.shapes),
        pipeline.Sources.triples(sources.ontology),
        tree.build_path / "cache" / "validate",
    )
    validator.validate_files(
        [*sources.ontology, *sources.data], SubjectIndex([*sources.ontology, *sources.data])
    )
    assert validator.runs == 1  # one pyshacl call, for the one changed file


def test_failed_build_leaves_published_build_untouched(tree: Settings) -> None:
    pipeline.build(tree)
    before = _snapshot(tree.build_path / "builds")
    target = os.readlink(tree.current_build)
    (tree.data_path / "people.ttl").write_text("@prefix broken")
    with pytest.raises(Exception):  # noqa: B017 — the CLI tests check the message
        pipeline.build(tree)
    assert _snapshot(tree.build_path / "builds") == before
    assert os.readlink(tree.current_build) == target
    assert len(open_published_build(tree.current_build).store) > 0


def test_a_store_failure_while_the_child_writes_dumps_leaves_nothing_behind(
    tree: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child writes the graph files and dumps into the new build while this process
    writes the store: a failure here must wait for the child before the half-made
    build is removed, or the child would leave parts of it behind."""
    pipeline.build(tree)
    before = _snapshot(tree.build_path / "builds")
    target = os.readlink(tree.current_build)

    def failing_add_graph(*args: object, **kwargs: object) -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr(pipeline.load, "add_graph", failing_add_graph)
    with pytest.raises(OSError, match="no space left"):
        pipeline.build(tree, force=True)
    assert _snapshot(tree.build_path / "builds") == before
    assert sorted(p.name for p in (tree.build_path / "builds").iterdir()) == sorted(
        {Path(k).parts[0] for k in before}
    )
    assert os.readlink(tree.current_build) == target


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "LOCK"
    }


def test_old_builds_are_pruned_but_current_and_previous_kept(tree: Settings) -> None:
    from defence_engagements.store import prune_builds

    roots = [pipeline.build(tree, force=True).root for _ in range(3)]
    assert all(root.exists() for root in roots)  # within the default number kept
    removed = prune_builds(tree.build_path, keep=1)
    assert removed == [roots[0]] and not roots[0].exists()
    assert tree.current_build.resolve() == roots[2]
    assert tree.previous_build.resolve() == roots[1]


def test_a_build_killed_half_way_is_cleared_by_the_next(tree: Settings) -> None:
    """A build killed outright (no chance to clean up) leaves its directory without a
    build.json; the next build, holding the lock, removes it."""
    pipeline.build(tree)
    abandoned = tree.build_path / "builds" / "20000101T000000Z-00000000"
    (abandoned / "store").mkdir(parents=True)
    (abandoned / "store" / "000001.sst").write_bytes(b"half")
    pipeline.build(tree, force=True)
    assert not abandoned.exists()
    assert (tree.current_build / "build.json").is_file()


def test_incremental_rebuild_of_the_real_data_equals_from_scratch(tmp_path: Path) -> None:
    """The real shapes look across files (people, posts, sources): a rebuild after one
    engagement changed must validate that file in its context and publish what a
    from-scratch build publishes."""
    real = make_tree(tmp_path / "real", source=REPO_ROOT)
    pipeline.build(real)
    changed = real.data_path / "engagements" / "2024-04-biden-kishida-summit.ttl"
    text = changed.read_text(encoding="utf-8")
    assert "@en" in text
    label_end = text.index('"@en')
    changed.write_text(text[:label_end] + ' (edited)"@en' + text[label_end + 4 :])
    incremental = pipeline.build(real)
    assert incremental.built
    assert incremental.manifest["reasoning"] == "revision"

    scratch = make_tree(tmp_path / "scratch", source=REPO_ROOT)
    shutil.copy(changed, scratch.data_path / "engagements" / changed.name)
    pipeline.build(scratch)
    assert _content(real) == _content(scratch)
    assert any(
        isinstance(t.object, ox.Literal) and t.object.value.endswith(" (edited)")
        for t in _content(real)[GRAPH_DATA]
    )


def test_a_rebuild_after_files_were_removed_added_and_edited_equals_from_scratch(
    tmp_path: Path,
) -> None:
    """The inferred graph revised from the last build's (an engagement gone, a new one
    with its own participants, posts and countries, a visit made part of a summit:
    chains, inverses and transitivity on both sides of the change) is the one a build
    from scratch infers; then a change to the ontology closes everything again."""

    def change(tree: Settings) -> None:
        engagements = tree.data_path / "engagements"
        (engagements / "2011-01-13-gates-visit-to-japan.ttl").unlink()
        summit = (engagements / "2024-04-biden-kishida-summit.ttl").read_text(encoding="utf-8")
        (engagements / "2024-04-biden-kishida-summit-copy.ttl").write_text(
            summit.replace("2024-04-biden-kishida-summit", "2024-04-biden-kishida-summit-copy"),
            encoding="utf-8",
        )
        visit = engagements / "2024-02-cavoli-visit-to-japan.ttl"
        visit.write_text(
            visit.read_text(encoding="utf-8")
            + "\nengagement:2024-02-cavoli-visit-to-japan dex:subEventOf"
            " engagement:2024-04-biden-kishida-summit .\n",
            encoding="utf-8",
        )

    real = make_tree(tmp_path / "real", source=REPO_ROOT)
    pipeline.build(real)
    change(real)
    revised = pipeline.build(real)
    assert revised.manifest["reasoning"] == "revision"
    scratch = make_tree(tmp_path / "scratch", source=REPO_ROOT)
    change(scratch)
    assert pipeline.build(scratch).manifest["reasoning"] == "closure"
    assert _content(real) == _content(scratch)
    # The dumps are made from the patched inferred file: byte for byte a full build's.
    for name in ("engagements.nt.gz", "engagements-inferred.ttl", "engagements.jsonld"):
        assert _dump(real.current_build / "dumps" / name) == _dump(
            scratch.current_build / "dumps" / name
        ), name
    for figure in ("graphs", "subject_bounds"):
        assert revised.manifest[figure] == read_manifest(scratch.current_build)[figure]
    sub_event_of = ox.NamedNode(PREFIXES["dex"] + "hasSubEvent")
    assert any(t.predicate == sub_event_of for t in _content(real)[GRAPH_INFERRED])

    ontology = real.ontology_path / "topics.ttl"
    ontology.write_text(ontology.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert pipeline.build(real).manifest["reasoning"] == "closure"


def test_revisions_in_a_row_each_start_from_the_last(tree: Settings, tmp_path: Path) -> None:
    """Each revised store is the copy of a revised store: three edits in a row end
    where a build from scratch of the last files does."""
    pipeline.build(tree)
    changed = tree.data_path / "engagements" / "second-meeting.ttl"
    for n in range(3):
        changed.write_text(
            changed.read_text().replace(
                f'"Second meeting{" " * n}"@en', f'"Second meeting{" " * (n + 1)}"@en'
            )
        )
        assert pipeline.build(tree).manifest["reasoning"] == "revision"
    scratch = make_tree(tmp_path / "scratch")
    shutil.copy(changed, scratch.data_path / "engagements" / changed.name)
    pipeline.build(scratch)
    assert _content(tree) == _content(scratch)
    label = ox.Literal("Second meeting   ", language="en")
    assert any(t.object == label for t in _content(tree)[GRAPH_DATA])


def test_a_removed_ontology_file_is_not_taken_for_a_data_file(
    tree: Settings, tmp_path: Path
) -> None:
    """build.json names inputs without their roles: a file gone from ontology/ must not
    pass for a removed data file (its triples would stay in the ontology graph)."""
    extra = tree.ontology_path / "extra.ttl"
    extra.write_text(
        "<https://w3id.org/defence-engagements/def#Meeting>"
        ' <http://www.w3.org/2000/01/rdf-schema#comment> "A gathering." .\n'
    )
    pipeline.build(tree)
    extra.unlink()
    changed = tree.data_path / "engagements" / "second-meeting.ttl"
    changed.write_text(changed.read_text().replace('"Second meeting"@en', '"Second"@en'))
    assert pipeline.build(tree).manifest["reasoning"] == "closure"
    scratch = make_tree(tmp_path / "scratch")
    shutil.copy(changed, scratch.data_path / "engagements" / changed.name)
    pipeline.build(scratch)
    assert _content(tree) == _content(scratch)


def test_a_last_store_that_cannot_be_copied_leaves_the_full_path(tree: Settings) -> None:
    pipeline.build(tree)
    (tree.current_build / "store" / "CURRENT").unlink()  # RocksDB cannot open it now
    changed = tree.data_path / "engagements" / "second-meeting.ttl"
    changed.write_text(changed.read_text().replace('"Second meeting"@en', '"Second"@en'))
    rebuilt = pipeline.build(tree)
    assert rebuilt.manifest["reasoning"] == "closure"
    label = ox.Literal("Second", language="en")
    assert any(t.object == label for t in _content(tree)[GRAPH_DATA])


def test_a_revised_build_that_fails_validation_publishes_nothing(tree: Settings) -> None:
    """A revision copies and changes the store and writes every file before the
    verdict: a violation still leaves the published build as it was, and nothing else."""
    pipeline.build(tree)
    before = _snapshot(tree.build_path / "builds")
    target = os.readlink(tree.current_build)
    changed = tree.data_path / "engagements" / "second-meeting.ttl"
    changed.write_text(changed.read_text().replace('rdfs:label "Second meeting"@en ;', ""))
    with pytest.raises(pipeline.ValidationFailedError):
        pipeline.build(tree)
    assert _snapshot(tree.build_path / "builds") == before
    assert os.readlink(tree.current_build) == target
    label = ox.Literal("Second meeting", language="en")
    assert any(t.object == label for t in _content(tree)[GRAPH_DATA])


def test_a_data_file_that_changes_the_schema_gets_a_full_closure(tree: Settings) -> None:
    """A data file may state schema triples; the revision leaves those to a full
    closure, in the same build, and the result is what a build from scratch gives."""
    pipeline.build(tree)
    changed = tree.data_path / "engagements" / "second-meeting.ttl"
    changed.write_text(
        changed.read_text()
        + "dex:Meeting <http://www.w3.org/2000/01/rdf-schema#subClassOf> dex:Gathering .\n"
    )
    rebuilt = pipeline.build(tree)
    assert rebuilt.manifest["reasoning"] == "closure"
    scratch = make_tree(tree.repo_root.parent / "scratch")
    shutil.copy(changed, scratch.data_path / "engagements" / changed.name)
    pipeline.build(scratch)
    assert _content(tree) == _content(scratch)
    gathering = ox.NamedNode(PREFIXES["dex"] + "Gathering")
    assert any(t.object == gathering for t in _content(tree)[GRAPH_INFERRED])


@pytest.mark.parametrize(
    "engagement",
    sorted(p.name for p in (REPO_ROOT / "data" / "engagements").glob("*.ttl")),
)
def test_each_real_engagement_validated_alone_has_no_violation(
    engagement: str, tmp_path: Path
) -> None:
    """``engagements validate FILE`` judges the file in the context of every other file:
    what it points to is typed elsewhere and must not be reported against it."""
    real = make_tree(tmp_path / "real", source=REPO_ROOT)
    path = real.data_path / "engagements" / engagement
    _sources, findings = pipeline.check(real, [path])
    violations = [f for f in findings if f.severity == "Violation"]
    assert violations == []
    assert {f.file for f in findings} <= {f"data/engagements/{engagement}"}


def test_unchanged_files_are_not_read_again_and_changes_are_seen(tree: Settings) -> None:
    """Hashes are remembered by size, time and inode (as git's index does): a second
    listing reads no file; a changed time, a changed size, or an edit that keeps both
    but happened too close to the hashing to trust its time ("racily clean"), is read."""
    from defence_engagements.pipeline.incremental import HashCache

    cache_dir = tree.build_path / "cache"
    paths = [p for p in tree.repo_root.rglob("*.ttl") if p.is_file()]
    an_hour_ago = time.time_ns() - 3_600 * 10**9
    for path in paths:
        os.utime(path, ns=(an_hour_ago, an_hour_ago))
    first = HashCache(cache_dir)
    listed = pipeline.source_files(tree, first)
    assert first.hashed == len(paths) > 3
    again = HashCache(cache_dir)
    assert pipeline.source_files(tree, again) == listed
    assert again.hashed == 0

    people = tree.data_path / "people.ttl"
    text = people.read_text(encoding="utf-8")
    same_size = text.replace("Alice", "Alicf", 1)
    assert same_size != text and len(same_size) == len(text)
    people.write_text(same_size, encoding="utf-8")  # a new time
    changed = HashCache(cache_dir)
    files = pipeline.source_files(tree, changed)
    assert changed.hashed == 1
    assert {s.name: s.sha256 for r in files.values() for s in r}["data/people.ttl"] == (
        hashlib.sha256(same_size.encode()).hexdigest()
    )

    # Written just now and then edited again with its time put back: its time cannot be
    # trusted yet, so it is read every time until it is older than the racy window.
    stat = people.stat()
    people.write_text(text, encoding="utf-8")
    os.utime(people, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    racy = HashCache(cache_dir)
    files = pipeline.source_files(tree, racy)
    assert {s.name: s.sha256 for r in files.values() for s in r}["data/people.ttl"] == (
        hashlib.sha256(text.encode()).hexdigest()
    )


def test_a_forced_build_reads_every_file(tree: Settings) -> None:
    """An edit that keeps a file's size, time and inode goes unseen (the trade git and
    make make) until a forced build, which reads every file."""
    an_hour_ago = time.time_ns() - 3_600 * 10**9
    for path in tree.repo_root.rglob("*.ttl"):
        os.utime(path, ns=(an_hour_ago, an_hour_ago))
    pipeline.build(tree)
    people = tree.data_path / "people.ttl"
    text = people.read_text(encoding="utf-8")
    people.write_text(text.replace("Alice", "Alicf", 1), encoding="utf-8")
    os.utime(people, ns=(an_hour_ago, an_hour_ago))  # as if untouched
    assert not pipeline.build(tree).built
    result = pipeline.build(tree, force=True)
    assert "Alicf" in _dump(result.root / "dumps" / "engagements.ttl").decode()


def test_the_parse_cache_is_compacted_and_still_answers(tree: Settings) -> None:
    """Each build that parses adds a pack, and an edit leaves the old parse behind:
    a build drops packs that are mostly dead, and many small packs are merged into
    one; every live file still comes from the cache afterwards, with the same triples."""
    from defence_engagements.pipeline.incremental import ParseCache

    pipeline.build(tree)
    parse_dir = tree.build_path / "cache" / "parse"
    first = sorted(parse_dir.glob("*.nt"))
    assert len(first) == 1
    changed = tree.data_path / "engagements" / "second-meeting.ttl"
    original = changed.read_text(encoding="utf-8")
    for round_number in range(3):  # each rebuild parses the edited file into a new pack
        changed.write_text(original + f"# edit {round_number}\n", encoding="utf-8")
        pipeline.build(tree)
    # The earlier edits' packs held only dead parses: the builds removed them.
    packs = sorted(parse_dir.glob("*.nt"))
    assert len(packs) == 2 and first[0] in packs

    files = pipeline.source_files(tree)
    live = {s.sha256 for role in files.values() for s in role}
    lookup = ParseCache(tree.build_path / "cache")
    before = {s.sha256: lookup.get(s) for role in files.values() for s in role}
    triples_before = {key: parsed.ntriples for key, parsed in before.items() if parsed}
    assert set(triples_before) == live

    assert ParseCache(tree.build_path / "cache").compact(live, max_packs=1) == 2
    packs = sorted(parse_dir.glob("*.nt"))
    assert len(packs) == 1 and not list(parse_dir.glob(".*"))  # no temporary file left
    # Only live bytes are left (the first pack held the edited file's first parse).
    assert packs[0].stat().st_size == sum(len(body) for body in triples_before.values())

    cache = ParseCache(tree.build_path / "cache")
    again = pipeline.parse_sources(files, cache, pipeline._Silent())
    assert cache.misses == 0 and cache.hits == len(live)
    assert {p.source.sha256: p.ntriples for p in again.all} == triples_before
    # Nothing more to do: one pack, all of it live.
    assert ParseCache(tree.build_path / "cache").compact(live, max_packs=1) == 0


def test_a_few_lookups_search_the_parse_caches_indexes_as_the_whole_index_reads(
    tree: Settings,
) -> None:
    """A rebuild asks the parse cache for a few files: it searches the indexes' text
    for them instead of reading 100,000 entries; the answers are the same, an entry cut
    short by a crash is missing from both, and past the few the whole index is read."""
    from defence_engagements.pipeline import incremental
    from defence_engagements.pipeline.incremental import ParseCache

    pipeline.build(tree)
    changed = tree.data_path / "engagements" / "second-meeting.ttl"
    changed.write_text(changed.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    pipeline.build(tree)  # a second pack
    sources = [s for role in pipeline.source_files(tree).values() for s in role]
    index = sorted((tree.build_path / "cache" / "parse").glob("*.idx"))[-1]
    with index.open("ab") as cut_short:  # a crash while an entry was being written
        cut_short.write(b"f" * 64 + b" 0 12")
    ghost = replace(sources[0], sha256="f" * 64)
    whole = ParseCache(tree.build_path / "cache")
    whole._entries()  # every index read, as a build that asks for every file does
    expected = {s.sha256: whole.get(s) for s in [*sources, ghost]}
    assert expected[ghost.sha256] is None and sum(e is None for e in expected.values()) == 1

    few = ParseCache(tree.build_path / "cache")
    found = {s.sha256: few.get(s) for s in [*sources, ghost][: incremental.FEW_LOOKUPS]}
    assert few._index is None  # searched, not read whole
    assert all(
        (f.stored_at, f.stored_span) == (expected[k].stored_at, expected[k].stored_span)
        for k, f in found.items()
        if f is not None and expected[k] is not None
    )
    assert {k for k, f in found.items() if f is None} == {k for k in found if expected[k] is None}
    many = ParseCache(tree.build_path / "cache")
    for source in [*sources] * (incremental.FEW_LOOKUPS // len(sources) + 2):
        many.get(source)
    assert many._index is not None


def test_a_rebuild_judges_the_parse_cache_by_its_dead_counts(tree: Settings) -> None:
    """A rebuild knows which entries it may have left dead (its changed files' last
    parses): it adds their bytes to the counts ``dead.json`` keeps and reads no pack's
    index unless one is then mostly dead; a build without the counts reads them all."""
    from defence_engagements.pipeline.incremental import DEAD_BYTES, ParseCache

    pipeline.build(tree)
    parse_dir = tree.build_path / "cache" / "parse"
    assert (parse_dir / DEAD_BYTES).is_file()  # counted by the first build
    files = pipeline.source_files(tree)
    live = {s.sha256 for role in files.values() for s in role}
    [pack] = parse_dir.glob("*.nt")
    # Without its index the pack holds nothing reachable, as the whole count would see;
    # the counts say it holds no dead bytes, so it is left alone.
    pack.with_suffix(".idx").rename(pack.with_suffix(".kept"))
    assert ParseCache(tree.build_path / "cache").compact(live, superseded=[]) == 0
    assert pack.exists()
    pack.with_suffix(".kept").rename(pack.with_suffix(".idx"))
    some = files["data"][0]

    def superseded(dead: int) -> list[ParsedFile]:  # an entry gone dead, of ``dead`` bytes
        return [ParsedFile(replace(some, sha256="e" * 64), stored_at=pack, stored_span=(0, dead))]

    def counted() -> dict[str, int]:
        return json.loads((parse_dir / DEAD_BYTES).read_text())

    assert ParseCache(tree.build_path / "cache").compact(live, superseded=superseded(7)) == 0
    assert counted() == {pack.name: 7}  # added, no index read
    # More than half the pack dead by the counts: every index is read, and the count
    # is what they say (every entry of this pack is live).
    size = pack.stat().st_size
    assert ParseCache(tree.build_path / "cache").compact(live, superseded=superseded(size)) == 0
    assert counted() == {pack.name: 0}
    (parse_dir / DEAD_BYTES).unlink()  # never counted: read whole
    assert ParseCache(tree.build_path / "cache").compact(live, superseded=[]) == 0
    assert counted() == {pack.name: 0}


def test_a_process_that_builds_again_keeps_the_findings_it_wrote(tree: Settings) -> None:
    """`engagements watch` rebuilds in one process: the last findings come from memory
    while findings.json is the file it wrote, and from the file once that changed."""
    result = pipeline.build(tree)
    assert result.root is not None and result.findings
    assert pipeline._read_findings(result.root, False) is result.findings
    findings = result.root / "findings.json"
    later = findings.stat().st_mtime_ns + 1_000_000_000
    os.utime(findings, ns=(later, later))
    again = pipeline._read_findings(result.root, False)
    assert again is not result.findings and again == result.findings


def test_a_build_compacts_a_mostly_dead_cache(tree: Settings) -> None:
    pipeline.build(tree)
    parse_dir = tree.build_path / "cache" / "parse"
    first = sorted(parse_dir.glob("*.nt"))
    # Every source replaced by another text: the first build's pack is now dead bytes.
    for directory in (tree.ontology_path, tree.data_path, tree.shapes_path):
        for path in directory.rglob("*.ttl"):
            path.write_text(path.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
    pipeline.build(tree)
    after = sorted(parse_dir.glob("*.nt"))
    assert not set(first) & set(after)
    assert len(after) == 1


def test_an_entry_whose_pack_was_compacted_away_is_parsed_again(tree: Settings) -> None:
    from defence_engagements.pipeline.incremental import ParseCache

    pipeline.build(tree)
    source = pipeline.source_files(tree)["data"][0]
    entry = ParseCache(tree.build_path / "cache").get(source)
    assert entry is not None and entry.stored_at is not None
    expected = entry.ntriples
    entry.stored_at.unlink()  # what a compaction in another process does
    assert entry.ntriples == expected


def _real_tree_cut_small(root: Path) -> Settings:
    """The real data, its dumps cut every few subjects (so it makes many parts)."""
    return make_tree(root, source=REPO_ROOT).with_overrides(dump_part_subjects=4)


def _edit_a_label(tree: Settings) -> None:
    visit = tree.data_path / "engagements" / "2024-02-cavoli-visit-to-japan.ttl"
    text = visit.read_text(encoding="utf-8")
    visit.write_text(text.replace('"@en', ' (edited)"@en', 1), encoding="utf-8")


def _assert_the_same_dumps(built: Path, expected: Path) -> None:
    for name in sorted(p.name for p in built.iterdir()):
        if name not in ("void.ttl", "engagements.nq.gz", "SHA256SUMS"):  # dated
            assert _dump(built / name) == _dump(expected / name), name


def test_a_rebuild_patches_the_dumps_parts_and_links_the_unchanged_dumps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dumps are cut into parts where the content says (pipeline/dump_parts.py): a
    rebuild writes anew the parts around what changed, copies the others and links the
    dumps none of whose graphs changed; the files are a build from scratch's, byte for
    byte. (Cut every few subjects here, so the real data makes many parts.)"""
    from defence_engagements.pipeline import dump_parts

    patched: list[str] = []
    patch = dump_parts.patch

    def counting(old: Path, *args: object, **kwargs: object) -> object:
        result = patch(old, *args, **kwargs)  # type: ignore[arg-type]
        if result is not None:
            patched.append(old.name)
        return result

    monkeypatch.setattr(dump_parts, "patch", counting)

    real = _real_tree_cut_small(tmp_path / "real")
    pipeline.build(real)
    _edit_a_label(real)
    assert pipeline.build(real).manifest["reasoning"] == "revision"
    assert {
        "engagements.ttl",
        "engagements.jsonld",
        "engagements-inferred.ttl",
        "engagements.nt.gz",
        "engagements.nq.gz",
    } <= set(patched)
    dumps_dir = real.current_build / "dumps"
    assert all(  # the last build's pieces
        (dumps_dir / "ontology.ttl" / piece).stat().st_nlink > 1
        for piece in DumpFile.of(dumps_dir / "ontology.ttl").names
    )
    scratch = _real_tree_cut_small(tmp_path / "scratch")
    _edit_a_label(scratch)
    pipeline.build(scratch)
    _assert_the_same_dumps(dumps_dir, scratch.current_build / "dumps")
    with gzip.open(io.BytesIO(_dump(dumps_dir / "engagements.nq.gz"))) as quads:
        assert (
            len(quads.read().splitlines())
            == read_manifest(real.current_build)["dumps"]["engagements.nq.gz"]
        )
    assert _content(real) == _content(scratch)


@pytest.mark.parametrize(
    ("missing", "reasoning"),
    [("findings.json", "closure"), ("counted.json", "closure"), ("parts.json", "revision")],
)
def test_a_last_build_without_what_a_rebuild_starts_from_still_builds_right(
    tree: Settings, tmp_path: Path, missing: str, reasoning: str
) -> None:
    """A rebuild starts from files beside the last build.json (its findings, its
    figures and runs, its dumps' parts): without the first two it builds everything,
    without the parts it writes the dumps whole; either way it publishes what a build
    from scratch does."""
    tree = tree.with_overrides(dump_part_subjects=4)
    pipeline.build(tree)
    (tree.current_build / missing).unlink()
    changed = tree.data_path / "engagements" / "second-meeting.ttl"
    changed.write_text(changed.read_text().replace('"Second meeting"@en', '"Second"@en'))
    assert pipeline.build(tree).manifest["reasoning"] == reasoning
    assert (tree.current_build / missing).is_file()  # and the next rebuild has it again
    scratch = make_tree(tmp_path / "scratch").with_overrides(dump_part_subjects=4)
    shutil.copy(changed, scratch.data_path / "engagements" / changed.name)
    pipeline.build(scratch)
    assert _content(tree) == _content(scratch)
    for name in ("engagements.ttl", "engagements.nt.gz", "engagements.jsonld"):
        assert _dump(tree.current_build / "dumps" / name) == _dump(
            scratch.current_build / "dumps" / name
        ), name


def test_a_rebuild_in_dump_workers_equals_from_scratch_and_a_failed_one_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big graphs: the rebuild's dumps are patched by the process's kept workers, those
    of the data graph alone started as soon as the change is known. The files are a
    build from scratch's; a rebuild that then fails validation leaves no trace (the
    workers are waited for before its directory goes)."""
    monkeypatch.setattr(dumps, "PARALLEL_DUMPS_BYTES", -1)

    real = _real_tree_cut_small(tmp_path / "real")
    pipeline.build(real)
    _edit_a_label(real)
    assert pipeline.build(real).manifest["reasoning"] == "revision"
    assert dumps._kept_workers  # the patches ran in the workers
    dumps_dir = real.current_build / "dumps"
    linked = DumpFile.of(dumps_dir / "engagements.jsonld").names
    assert sum((dumps_dir / "engagements.jsonld" / n).stat().st_nlink > 1 for n in linked) > 3
    scratch = _real_tree_cut_small(tmp_path / "scratch")
    _edit_a_label(scratch)
    pipeline.build(scratch)
    _assert_the_same_dumps(dumps_dir, scratch.current_build / "dumps")
    sums = _dump(dumps_dir / "SHA256SUMS").decode().splitlines()
    for line in sums:
        digest, name = line.split("  ")
        assert hashlib.sha256(_dump(dumps_dir / name)).hexdigest() == digest, name
    assert _content(real) == _content(scratch)

    before = _snapshot(real.build_path / "builds")
    visit = real.data_path / "engagements" / "2024-02-cavoli-visit-to-japan.ttl"
    text = visit.read_text(encoding="utf-8")
    broken = re.sub(r"rdfs:label [^;]*;", "", text, count=1)
    assert broken != text
    visit.write_text(broken, encoding="utf-8")
    with pytest.raises(pipeline.ValidationFailedError):
        pipeline.build(real)
    assert _snapshot(real.build_path / "builds") == before
