"""Parsing: stable blank nodes, the subject → line index, syntax errors with their location."""

from __future__ import annotations

import os

import pyoxigraph as ox
import pytest

from defence_engagements.errors import RdfSyntaxError
from defence_engagements.pipeline.parse import (
    SourceFile,
    parse_turtle,
    read_source,
    subject_start_lines,
)

TRICKY = """\
@prefix ex: <http://example.org/> .
PREFIX other: <http://other.example/>
# ex:commented a ex:Thing .
ex:a ex:p "a string with ex:fake . inside" ;
    ex:q \"\"\"long
ex:notasubject ex:p ex:o .
\"\"\" .
<http://example.org/full> ex:p [ ex:q ex:inner ] , ( ex:l1 ex:l2 ) .
[ ex:p ex:anon ] ex:q ex:r .
_:label ex:p 'single . quoted' .
other:b
    ex:p ex:o.
ex:a ex:again ex:o .
ex:esc\\-aped ex:p 1.5 .
"""


def test_subject_lines_skip_strings_comments_and_nested_terms() -> None:
    lines = subject_start_lines(TRICKY)
    assert lines == {
        "<http://example.org/a>": 4,
        "<http://example.org/full>": 8,
        "_:label": 10,
        "<http://other.example/b>": 11,
        "<http://example.org/esc-aped>": 14,
    }


def _source(name: str, content: bytes) -> SourceFile:
    import hashlib

    return SourceFile(name, name, "data", hashlib.sha256(content).hexdigest())


def test_every_named_subject_has_a_line_and_blank_nodes_are_stable() -> None:
    content = TRICKY.encode()
    first = parse_turtle(_source("x.ttl", content), content)
    second = parse_turtle(_source("x.ttl", content), content)
    assert first.triples == second.triples  # blank-node labels do not depend on the run
    named = {str(t.subject) for t in first.triples if isinstance(t.subject, ox.NamedNode)}
    assert named <= set(first.subject_lines)
    labelled = [k for k in first.subject_lines if k.startswith("_:")]
    assert labelled and all(k[2:].startswith(first.source.sha256[:12]) for k in labelled)


def test_syntax_error_names_file_line_column_and_parser_message() -> None:
    content = b'@prefix ex: <http://example.org/> .\nex:a ex:p "unterminated .\nex:b ex:p ex:c .\n'
    with pytest.raises(RdfSyntaxError) as caught:
        parse_turtle(_source("data/broken.ttl", content), content)
    error = caught.value
    assert error.location.file == "data/broken.ttl"
    assert error.location.line == 2
    assert error.location.column is not None
    assert error.message.startswith("data/broken.ttl:2:")
    assert "Parser error" not in error.message and len(error.message.split(": ", 1)[1]) > 5


def test_fixture_files_index_their_subjects(tree) -> None:
    path = tree.data_path / "engagements" / "second-meeting.ttl"
    parsed = parse_turtle(*read_source(path, "second-meeting.ttl", "data"))
    iri = "<https://w3id.org/defence-engagements/id/engagement/second-meeting>"
    assert parsed.subject_lines == {iri: 7}


def test_parsing_in_worker_processes_equals_parsing_here(
    tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first build of many files parses them in one process per core: same triples,
    same blank-node labels, same order, and a syntax error still names its file and
    line (it crosses back from the worker whole)."""
    from defence_engagements import pipeline
    from defence_engagements.pipeline.incremental import ParseCache

    files = pipeline.source_files(tree)
    here = pipeline.parse_sources(files, ParseCache(None))
    monkeypatch.setattr(pipeline, "PARALLEL_PARSE_FILES", 1)
    monkeypatch.setattr(pipeline, "_PARSE_CHUNK", 2)
    in_workers = pipeline.parse_sources(files, ParseCache(tree.build_path / "cache"))
    assert [p.source for p in in_workers.all] == [p.source for p in here.all]
    assert [p.ntriples for p in in_workers.all] == [p.ntriples for p in here.all]
    assert all(p.stored_at is not None for p in in_workers.all)
    # One pack per worker process, however many chunks it parsed.
    packs = list((tree.build_path / "cache" / "parse").glob("*.idx"))
    assert 1 <= len(packs) <= (os.cpu_count() or 1) < len(in_workers.all) // 2

    broken = tree.data_path / "engagements" / "second-meeting.ttl"
    broken.write_text(broken.read_text() + '\nex:x ex:p "unterminated .\n')
    with pytest.raises(RdfSyntaxError) as caught:
        pipeline.parse_sources(pipeline.source_files(tree), ParseCache(tree.build_path / "c2"))
    assert caught.value.location.file == "data/engagements/second-meeting.ttl"
    assert caught.value.location.line is not None and caught.value.location.line > 1


def test_the_parse_cache_packs_survive_a_new_process_and_a_cut_off_index(tree) -> None:
    """Parses go into one pack per writer with an index written after the bytes; a
    new cache reads them back, and an index line cut short (a crash mid-write) only
    loses that entry."""
    from defence_engagements import pipeline
    from defence_engagements.pipeline.incremental import ParseCache

    cache_dir = tree.build_path / "cache"
    files = pipeline.source_files(tree)
    first = pipeline.parse_sources(files, ParseCache(cache_dir))
    again = ParseCache(cache_dir)
    second = pipeline.parse_sources(files, again)
    assert again.hits == len(first.all) and again.misses == 0
    assert [p.ntriples for p in second.all] == [p.ntriples for p in first.all]

    (index,) = (cache_dir / "parse").glob("*.idx")
    lines = index.read_text().splitlines()
    index.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:-3])  # the last one cut
    cut = ParseCache(cache_dir)
    third = pipeline.parse_sources(files, cut)
    assert cut.misses == 1 and cut.hits == len(first.all) - 1
    assert [p.ntriples for p in third.all] == [p.ntriples for p in first.all]
