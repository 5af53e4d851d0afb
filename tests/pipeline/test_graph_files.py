"""Graph files: sorted, distinct N-Triples lines, whatever the number of sorted runs."""

from __future__ import annotations

import random
from pathlib import Path

from defence_engagements.pipeline.dumps import write_graph_file


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
