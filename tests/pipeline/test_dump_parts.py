"""Dumps in content-defined parts: written whole they are one serialisation's bytes,
and patched after a change they are the bytes written anew."""

from __future__ import annotations

import bisect
import gzip
import hashlib
import random
from pathlib import Path

import pyoxigraph as ox
import pytest

from defence_engagements.dump_files import DumpFile
from defence_engagements.namespaces import PREFIXES
from defence_engagements.pipeline import dump_parts
from defence_engagements.pipeline.parse import OWN_NTRIPLES

EX = "https://w3id.org/defence-engagements/id/engagement/"


def _graph(rng: random.Random, subjects: range) -> set[bytes]:
    lines = set()
    for n in subjects:
        for p in rng.sample(["label", "startDate", "guest", "host"], rng.randint(1, 3)):
            value = (
                f'"{p} {n} {rng.randint(0, 9)}"@en'
                if p in ("label", "startDate")
                else (f"<{EX}{rng.randint(0, 4000)}>")
            )
            lines.add(f"<{EX}{n}> <{PREFIXES['dex']}{p}> {value} .\n".encode())
    return lines


def _cuts(index: dump_parts.Index) -> tuple[list[str], list[int], list[int], int]:
    """An index but for its pieces' names (new pieces are named afresh)."""
    return index.firsts, index.counts, index.sizes, index.every


def _lines_between(lines: list[bytes]):
    def between(first: bytes | None, stop: bytes | None) -> list[bytes]:
        lo = 0 if first is None else bisect.bisect_left(lines, first + b" ")
        hi = len(lines) if stop is None else bisect.bisect_left(lines, stop + b" ")
        return lines[lo:hi]

    return between


FORMATS = {
    "ttl": (ox.RdfFormat.TURTLE, False),
    "jsonld": (ox.RdfFormat.JSON_LD, False),
    "nt.gz": (ox.RdfFormat.N_TRIPLES, True),
}


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_parts_patched_after_random_changes_are_the_file_written_anew(
    suffix: str, tmp_path: Path
) -> None:
    rng = random.Random(suffix)
    codec = dump_parts.Codec(*FORMATS[suffix], every=16)
    lines = sorted(_graph(rng, range(3000)))
    old = tmp_path / f"old.{suffix}"
    index, _ = dump_parts.write(old, codec, lines)
    assert len(index.firsts) > 5 and index.statements == len(lines)
    for round_number in range(6):
        current = set(lines)
        changed_subjects = set()
        # Whole subjects gone (a cut's subject among them, sometimes), new ones, edits.
        for line in rng.sample(lines, 40):
            current.discard(line)
            changed_subjects.add(line.split(b" ")[0])
        gone = rng.sample(index.firsts, 2) if round_number % 2 else []
        for subject in gone:
            current = {line for line in current if not line.startswith(subject.encode() + b" ")}
            changed_subjects.add(subject.encode())
        added = _graph(rng, range(3000 + 50 * round_number, 3000 + 50 * round_number + 50))
        current |= added
        changed_subjects |= {line.split(b" ")[0] for line in added}
        new_lines = sorted(current)
        patched = tmp_path / f"patched{round_number}.{suffix}"
        result = dump_parts.patch(
            old, index, patched, codec, changed_subjects, _lines_between(new_lines)
        )
        assert result is not None
        fresh = tmp_path / f"fresh{round_number}.{suffix}"
        expected_index, expected = dump_parts.write(fresh, codec, new_lines)
        assert result[1].read_bytes() == expected.read_bytes(), round_number
        assert _cuts(result[0]) == _cuts(expected_index)
        assert result[1].sha256 == expected.sha256
        assert expected.sha256 == hashlib.sha256(expected.read_bytes()).hexdigest()
        # The parts no change reached are the last dump's pieces, linked.
        kept = set(result[0].pieces) & set(index.pieces)
        assert len(kept) > len(index.pieces) // 3
        assert all((patched / name).stat().st_nlink >= 2 for name in kept)
        old, index, lines = patched, result[0], new_lines
    # Each format reads back as the graph: gzip members concatenate, and the Turtle and
    # JSON-LD files are what one serialisation of the whole graph writes.
    if suffix == "nt.gz":
        assert gzip.decompress(DumpFile.of(old).read_bytes()) == b"".join(lines)
    else:
        triples = [q.triple for q in ox.parse(b"".join(lines), **OWN_NTRIPLES)]
        prefixes = PREFIXES if suffix == "ttl" else None
        assert DumpFile.of(old).read_bytes() == ox.serialize(
            triples, format=FORMATS[suffix][0], prefixes=prefixes
        )


def test_the_cuts_depend_on_the_subjects_alone() -> None:
    rng = random.Random(3)
    lines = sorted(_graph(rng, range(2000)))
    firsts = [first for first, _ in dump_parts.cut(lines, 16)]
    assert firsts[0] == lines[0].split(b" ")[0]
    assert all(dump_parts.starts_part(first, 16) for first in firsts[1:])
    # Removing a subject that starts no part leaves the cuts where they were.
    inner = next(
        line for line in lines[len(lines) // 2 :] if not dump_parts.starts_part(line.split()[0], 16)
    )
    subject = inner.split(b" ")[0]
    fewer = [line for line in lines if not line.startswith(subject + b" ")]
    assert [first for first, _ in dump_parts.cut(fewer, 16)] == firsts


def test_a_dump_reads_as_one_file_from_any_position(tmp_path: Path) -> None:
    rng = random.Random(9)
    codec = dump_parts.Codec(ox.RdfFormat.N_TRIPLES, gzipped=False, every=4)
    lines = sorted(_graph(rng, range(400)))
    _, dump = dump_parts.write(tmp_path / "d.nt", codec, lines)
    whole = b"".join(lines)
    assert len(dump.names) > 20 and dump.size == len(whole)
    with dump.open() as handle:
        for _ in range(300):
            start = rng.randrange(len(whole) + 10)
            length = rng.randrange(1, 5000)
            handle.seek(start)
            assert handle.read(length) == whole[start : start + length]
    # Without its index a directory is no dump (a build that stopped half way).
    (dump.directory / "pieces.json").unlink()
    assert DumpFile.at(dump.directory) is None
