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
from defence_engagements.pipeline import dump_parts, sha256_state
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


def _pieces_dump(directory: Path, bodies: list[bytes]) -> DumpFile:
    out = dump_parts.Pieces(directory)
    for body in bodies:
        out.write(body)
    return out.close()


@pytest.mark.skipif(not sha256_state.resumable(), reason="OpenSSL's SHA-256 state not reachable")
def test_a_patched_dump_hashes_from_its_first_new_piece(tmp_path: Path) -> None:
    rng = random.Random(7)
    bodies = [rng.randbytes(rng.randint(1000, 5000)) for _ in range(40)]
    last = _pieces_dump(tmp_path / "last", bodies)
    assert (last.directory / dump_parts.STATES).is_file()

    # The same first pieces (written again or linked), one changed, the rest linked.
    changed = [*bodies[:25], b"a new piece", *bodies[26:]]
    out = dump_parts.Pieces(tmp_path / "new", last)
    for body in changed[:10]:
        out.write(body)  # bytes the last dump has in place: its piece, linked
    for name in last.names[10:25]:
        out.link(last.directory, name)
    out.write(changed[25])
    for name in last.names[26:]:
        out.link(last.directory, name)
    patched = out.close()
    whole = b"".join(changed)
    assert patched.read_bytes() == whole
    assert patched.sha256 == hashlib.sha256(whole).hexdigest()
    assert out.hashed == len(b"".join(changed[25:]))  # nothing before the new piece
    assert all((patched.directory / n).samefile(last.directory / n) for n in last.names[:25])

    # Its states are right in turn: the next patch starts from them.
    again = [*changed[:30], b"another", *changed[31:]]
    next_out = dump_parts.Pieces(tmp_path / "next", patched)
    for body in again:
        next_out.write(body)
    assert next_out.close().sha256 == hashlib.sha256(b"".join(again)).hexdigest()
    assert next_out.hashed == len(b"".join(again[30:]))


@pytest.mark.parametrize("states", ["missing", "truncated", "another file's"])
def test_without_trustworthy_states_every_byte_is_hashed(tmp_path: Path, states: str) -> None:
    rng = random.Random(states)
    bodies = [rng.randbytes(2000) for _ in range(12)]
    last = _pieces_dump(tmp_path / "last", bodies)
    kept = last.directory / dump_parts.STATES
    if states == "missing":
        kept.unlink(missing_ok=True)
    elif states == "truncated":
        kept.write_bytes(kept.read_bytes()[: -sha256_state.STATE_SIZE])
    else:
        other = _pieces_dump(tmp_path / "other", [b"x" * 1000] * 12)
        kept.write_bytes((other.directory / dump_parts.STATES).read_bytes())
    changed = [*bodies[:8], b"changed", *bodies[9:]]
    out = dump_parts.Pieces(tmp_path / "new", last)
    for body in changed:
        out.write(body)
    assert out.close().sha256 == hashlib.sha256(b"".join(changed)).hexdigest()
    assert out.hashed == len(b"".join(changed))


@pytest.mark.skipif(not sha256_state.resumable(), reason="OpenSSL's SHA-256 state not reachable")
def test_a_kept_sha256_state_goes_on_as_hashlib_would() -> None:
    data = random.Random(3).randbytes(300_000)
    for cut in (0, 1, 63, 64, 65, 99_999, 300_000):
        first = sha256_state.Sha256()
        first.update(data[:cut])
        second = sha256_state.Sha256(first.state())
        second.update(bytearray(data[cut:]))  # a read's buffer, as the pieces are read
        assert second.hexdigest() == hashlib.sha256(data).hexdigest(), cut
        assert second.length == len(data)
        assert first.hexdigest() == hashlib.sha256(data[:cut]).hexdigest()  # state kept
    with pytest.raises(ValueError, match="112 bytes"):
        sha256_state.Sha256(b"short")
