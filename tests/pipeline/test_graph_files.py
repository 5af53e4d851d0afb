"""Graph files (sorted, distinct N-Triples lines, whatever the number of sorted runs) and
the dumps streamed from them, in this process or in workers."""

from __future__ import annotations

import random
from pathlib import Path

import pyoxigraph as ox
from pipeline_support import make_tree

from defence_engagements import pipeline
from defence_engagements.dump_files import DumpFile
from defence_engagements.namespaces import GRAPH_METADATA, NAMED_GRAPHS
from defence_engagements.pipeline import statistics
from defence_engagements.pipeline.dumps import (
    CHECKSUMS,
    DUMPS,
    DumpWriter,
    start_workers,
    write_checksums,
)
from defence_engagements.pipeline.graph_file import GraphFile, write_graph_file
from defence_engagements.settings import Settings
from defence_engagements.store import open_published_build


def test_runs_merged_from_disk_give_the_lines_of_one_sort(tmp_path: Path) -> None:
    rng = random.Random(7)
    lines = [
        f'<http://example.org/s{rng.randrange(3000)}> <http://example.org/p> "{i % 501}" .\n'
        for i in range(12_000)
    ]
    chunks = [("".join(lines[i : i + 97])).encode() for i in range(0, len(lines), 97)]
    expected = b"".join(sorted({line.encode() for line in lines}))
    assert len(expected.splitlines()) < len(lines)  # duplicates exist and must go

    in_runs = write_graph_file(iter(chunks), tmp_path / "runs.nt", run_lines=1_000, every=16)
    whole = write_graph_file(iter(chunks), tmp_path / "whole.nt", every=16)

    assert in_runs.read_bytes() == expected
    assert whole.read_bytes() == expected
    assert len(whole.parts) > 10  # …read whole from its parts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.nt", "whole.nt"]  # no runs left


def _published_graph_files(tree: Settings, directory: Path) -> dict[str, GraphFile]:
    """Each graph of the published build as a sorted N-Triples file in ``directory``."""
    store = open_published_build(tree.current_build).store
    return {
        graph: write_graph_file(
            store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(graph)) or b"",
            directory / f"graph-{position}.nt",
        )
        for position, graph in enumerate(NAMED_GRAPHS)
    }


def test_dumps_written_in_worker_processes_are_the_same_bytes(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    result = pipeline.build(tree)
    assert result.root is not None
    graph_files = _published_graph_files(tree, tmp_path)
    inline = _write_dumps(graph_files, tmp_path / "inline", parallel=False)
    in_workers = _write_dumps(graph_files, tmp_path / "workers", parallel=True)

    assert inline == in_workers == result.manifest["dumps"]
    # …and in workers started beforehand (a rebuild starts them while it validates).
    pool = start_workers()
    with DumpWriter(graph_files, tmp_path / "started", workers=pool) as writer:
        writer.write(graph_files, DUMPS)
        started = writer.results()
    assert pool.submit(len, "still open").result() == 10  # the caller's to shut down
    pool.shutdown()
    assert {name: w.count for name, w in started.items()} == inline
    for name in (*DUMPS, CHECKSUMS):
        assert (
            DumpFile.of(tmp_path / "inline" / name).read_bytes()
            == DumpFile.of(tmp_path / "workers" / name).read_bytes()
        ), name
    # …and the build's own dumps, apart from the VoID (its date and version differ).
    same = [n for n in DUMPS if GRAPH_METADATA not in DUMPS[n][0]]
    assert all(
        DumpFile.of(tmp_path / "inline" / n).read_bytes()
        == DumpFile.of(result.root / "dumps" / n).read_bytes()
        for n in same
    )


def _write_dumps(
    graph_files: dict[str, GraphFile], directory: Path, *, parallel: bool
) -> dict[str, int]:
    """Every dump and SHA256SUMS, here or in workers; statements per file."""
    with DumpWriter(graph_files, directory, parallel=parallel) as writer:
        writer.write(graph_files, DUMPS)
        written = writer.results()
    write_checksums(directory, {name: w.digest for name, w in written.items()})
    return {name: w.count for name, w in written.items()}


def test_work_run_beside_the_dumps_gives_what_it_gives_here(tmp_path: Path) -> None:
    """The publishing step counts subject maxima in a worker while dumps are written:
    the same figures as in this process, and per graph they add up."""
    tree = make_tree(tmp_path / "tree")
    pipeline.build(tree)
    graph_files = _published_graph_files(tree, tmp_path)
    here = statistics.subject_runs(graph_files)
    with DumpWriter(graph_files, tmp_path / "dumps", parallel=True) as writer:
        beside = writer.run(statistics.subject_runs, graph_files).result()
    assert beside == here
    bounds = statistics.subject_bounds(here)
    parts = [statistics.subject_bounds({g: r}) for g, r in here.items()]
    assert statistics.sum_bounds(*parts) == bounds
    assert bounds["any"] > 0


def _lines(rng: random.Random, subjects: int) -> set[bytes]:
    # IRIs and blank nodes, some a prefix of another (_:b1, _:b12): lines must sort as
    # their subjects do for the parts' bisection.
    names = [f"<http://example.org/s{n}>" for n in range(subjects)] + [
        f"_:b{n}" for n in range(subjects // 4)
    ]
    predicates = [f"<http://example.org/p{n}>" for n in range(3)]
    return {
        f'{rng.choice(names)} {rng.choice(predicates)} "{rng.randrange(50)}" .\n'.encode()
        for _ in range(subjects * 3)
    }


def test_a_patched_graph_file_is_the_file_written_anew_sharing_untouched_parts(
    tmp_path: Path,
) -> None:
    rng = random.Random(11)
    lines = _lines(rng, 2000)
    graph = write_graph_file(b"".join(lines), tmp_path / "g0", every=16)
    assert len(graph.parts) > 20
    for round_ in range(1, 13):
        present = sorted(lines)
        drop = set(rng.sample(present, rng.randint(0, 8)))
        if round_ % 4 == 0:  # the file's first subject, every line of it
            subject = present[0].split(b" ")[0]
            drop |= {line for line in present if line.split(b" ")[0] == subject}
        add = _lines(rng, 2000) if round_ == 6 else set(rng.sample(sorted(_lines(rng, 2500)), 6))
        add |= set(rng.sample(present, 3))  # already there: they do not join
        both = set(rng.sample(present, 2))  # dropped and added: they go
        patched, left, joined = graph.patch(drop | both, add | both, tmp_path / f"g{round_}")
        expected = (lines - drop - both) | add
        written = write_graph_file(b"".join(expected), tmp_path / "anew", every=16)

        assert patched.read_bytes() == b"".join(sorted(expected))
        assert [(p.first, p.lines, p.size) for p in patched.parts] == [
            (p.first, p.lines, p.size) for p in written.parts
        ]
        assert set(left) == (drop | both) & lines
        assert set(joined) == add - lines - both
        shared = [p for p in patched.parts if p in graph.parts]
        subjects = {line.split(b" ")[0] for line in drop | add | both}
        # A changed subject's part and its neighbours are written; the rest are linked.
        assert len(patched.parts) - len(shared) <= 4 * len(subjects) + 4 or round_ == 6
        assert all((patched.directory / p.name).stat().st_nlink == 2 for p in shared)
        assert GraphFile(patched.directory).parts == patched.parts  # its index, read back
        graph, lines = patched, expected
        remove_old = tmp_path / f"g{round_ - 1}"
        for part in remove_old.iterdir():
            part.unlink()
        remove_old.rmdir()
        assert graph.read_bytes() == b"".join(sorted(lines))  # the links outlive the old file


def test_lines_in_a_range_of_subjects_are_found_across_parts(tmp_path: Path) -> None:
    rng = random.Random(5)
    lines = sorted(_lines(rng, 1500))
    graph = write_graph_file(b"".join(lines), tmp_path / "g", every=8)
    subjects = sorted({line.split(b" ")[0] for line in lines})
    for _ in range(200):
        first, stop = sorted(rng.sample([None, *subjects], 2), key=lambda s: s or b"")
        if rng.random() < 0.2:
            stop = None
        expected = [
            line
            for line in lines
            if (first is None or line.split(b" ")[0] >= first)
            and (stop is None or line.split(b" ")[0] < stop)
        ]
        assert graph.lines_in_range(first, stop) == expected


def test_a_small_graph_file_patched_whole_and_emptied(tmp_path: Path) -> None:
    lines = [b"<http://a> <http://p> <http://x> .\n", b"<http://b> <http://p> <http://x> .\n"]
    graph = write_graph_file(b"".join(lines), tmp_path / "g")
    assert len(graph.parts) == 1
    grown, left, joined = graph.patch(
        [lines[0]], [b"_:z <http://p> <http://y> .\n"], tmp_path / "h"
    )
    assert grown.read_bytes() == lines[1] + b"_:z <http://p> <http://y> .\n"
    assert (left, joined) == ([lines[0]], [b"_:z <http://p> <http://y> .\n"])
    empty, _, _ = grown.patch(grown.read_bytes().splitlines(keepends=True), [], tmp_path / "e")
    assert empty.read_bytes() == b"" and empty.parts == []
