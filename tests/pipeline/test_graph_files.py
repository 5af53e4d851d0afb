"""Graph files (sorted, distinct N-Triples lines, whatever the number of sorted runs) and
the dumps streamed from them, in this process or in workers."""

from __future__ import annotations

import random
from pathlib import Path

import pyoxigraph as ox
from pipeline_support import make_tree

from defence_engagements import pipeline
from defence_engagements.namespaces import GRAPH_METADATA, NAMED_GRAPHS
from defence_engagements.pipeline import statistics
from defence_engagements.pipeline.dumps import (
    CHECKSUMS,
    DUMPS,
    DumpWriter,
    write_dumps,
    write_graph_file,
)
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

    in_runs = write_graph_file(iter(chunks), tmp_path / "runs.nt", run_lines=1_000)
    whole = write_graph_file(iter(chunks), tmp_path / "whole.nt")

    assert in_runs.read_bytes() == expected
    assert whole.read_bytes() == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.nt", "whole.nt"]  # no runs left


def _published_graph_files(tree: Settings, directory: Path) -> dict[str, Path]:
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
    inline = write_dumps(graph_files, tmp_path / "inline", parallel=False)
    in_workers = write_dumps(graph_files, tmp_path / "workers", parallel=True)

    assert inline == in_workers == result.manifest["dumps"]
    for name in (*DUMPS, CHECKSUMS):
        assert (tmp_path / "inline" / name).read_bytes() == (
            tmp_path / "workers" / name
        ).read_bytes(), name
    # …and the build's own dumps, apart from the VoID (its date and version differ).
    same = [n for n in DUMPS if GRAPH_METADATA not in DUMPS[n][0]]
    assert all(
        (tmp_path / "inline" / n).read_bytes() == (result.root / "dumps" / n).read_bytes()
        for n in same
    )


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
