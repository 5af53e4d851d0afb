"""Graph files (sorted, distinct N-Triples lines, whatever the number of sorted runs) and
the dumps streamed from them, in this process or in workers."""

from __future__ import annotations

import random
from pathlib import Path

import pyoxigraph as ox
from pipeline_support import make_tree

from defence_engagements import pipeline
from defence_engagements.namespaces import GRAPH_METADATA, NAMED_GRAPHS
from defence_engagements.pipeline.dumps import (
    CHECKSUMS,
    DUMPS,
    merged_blocks,
    write_dumps,
    write_graph_file,
)
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


def test_files_merged_a_block_at_a_time_give_one_sort_of_their_lines(tmp_path: Path) -> None:
    """Overlapping files with shared lines, lines that are prefixes of others up to the
    terminator (``"a"@en`` and ``"a"@en-gb``), blocks far smaller than the files."""
    rng = random.Random(11)
    objects = ['"a"@en', '"a"@en-gb', '"a"', '"a b"', "<http://example.org/o>", "_:b1"]
    files: list[list[bytes]] = []
    for position in range(4):
        lines = {
            f"<http://example.org/s{rng.randrange(200)}> <http://example.org/p{rng.randrange(3)}>"
            f" {rng.choice(objects)} .\n".encode()
            for _ in range(1_500 * (position + 1))
        }
        files.append(sorted(lines))
    paths = []
    for position, lines in enumerate(files):
        paths.append(tmp_path / f"g{position}.nt")
        paths[-1].write_bytes(b"".join(lines))
    every = [line for lines in files for line in lines]
    assert len(set(every)) < len(every)  # the files share lines

    for block_lines in (1, 7, 100, 100_000):
        merged = [line for block in merged_blocks(paths, block_lines=block_lines) for line in block]
        assert merged == sorted(set(every)), block_lines

    ends = [f"<http://example.org/g{position}> .\n".encode() for position in range(4)]
    as_quads = sorted(
        {line[:-2] + end for lines, end in zip(files, ends, strict=True) for line in lines}
    )
    merged = [line for block in merged_blocks(paths, ends, block_lines=13) for line in block]
    assert merged == as_quads


def test_dumps_written_in_worker_processes_are_the_same_bytes(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    result = pipeline.build(tree)
    assert result.root is not None
    store = open_published_build(tree.current_build).store
    graph_files = {
        graph: write_graph_file(
            store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(graph)) or b"",
            tmp_path / f"graph-{position}.nt",
        )
        for position, graph in enumerate(NAMED_GRAPHS)
    }
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
