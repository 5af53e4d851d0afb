"""A dump on disk: a directory of pieces, read and served as one file.

A rebuild changes a few parts of each big dump (:mod:`.pipeline.dump_parts`). Kept as
pieces, the parts it leaves alone are hard links to the last build's: a rebuild at
100,000 engagements writes megabytes where whole files would be gigabytes, and
removing an old build frees only the pieces it alone held. ``pieces.json`` lists the
pieces in order with their sizes and the whole file's SHA-256 (the one SHA256SUMS
gives). The server sends them as one file (Content-Length, ETag, byte ranges:
:mod:`.web.downloads`); the static site writes them out whole.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import itertools
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

PIECES = "pieces.json"


@dataclass(frozen=True)
class DumpFile:
    """One dump: its pieces in order, their sizes and the whole file's SHA-256."""

    directory: Path
    names: tuple[str, ...]
    sizes: tuple[int, ...]
    sha256: str

    @staticmethod
    def at(directory: Path) -> DumpFile | None:
        """The dump in ``directory``, or None when there is none (or only half)."""
        try:
            index = orjson.loads((directory / PIECES).read_bytes())
            names, sizes = zip(*index["pieces"], strict=True) if index["pieces"] else ((), ())
            return DumpFile(directory, tuple(names), tuple(sizes), str(index["sha256"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def of(directory: Path) -> DumpFile:
        """The dump in ``directory``; FileNotFoundError when it is not one."""
        dump = DumpFile.at(directory)
        if dump is None:
            raise FileNotFoundError(f"{directory}: not a dump (no readable {PIECES})")
        return dump

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def size(self) -> int:
        return sum(self.sizes)

    @property
    def modified(self) -> float:
        return (self.directory / PIECES).stat().st_mtime

    def open(self) -> BinaryIO:
        """The file, readable and seekable."""
        return read_joined([self.directory / name for name in self.names], self.sizes)

    def read_bytes(self) -> bytes:
        with self.open() as handle:
            return handle.read()

    def copy_to(self, target: Path) -> None:
        """The whole file written to ``target``."""
        with self.open() as source, target.open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)


def write_index(directory: Path, names: list[str], sizes: list[int], sha256: str) -> DumpFile:
    """Close a dump whose pieces are in ``directory``: written last, its index is what
    makes the directory a dump."""
    index = {"sha256": sha256, "pieces": [[n, s] for n, s in zip(names, sizes, strict=True)]}
    (directory / PIECES).write_bytes(orjson.dumps(index))
    return DumpFile(directory, tuple(names), tuple(sizes), sha256)


def write_whole(target: Path, body: bytes) -> DumpFile:
    """A dump of one piece (a small file, or one written whole) in the directory
    ``target``."""
    target.mkdir(parents=True)
    names = ["0"] if body else []
    if body:
        (target / "0").write_bytes(body)
    return write_index(target, names, [len(body)] if body else [], hashlib.sha256(body).hexdigest())


def link_dump(source: Path, target: Path) -> None:
    """The dump in ``source`` again in ``target``: every piece and the index linked."""
    target.mkdir(parents=True)
    for entry in source.iterdir():
        os.link(entry, target / entry.name)


def dumps_in(directory: Path) -> list[DumpFile]:
    """The dumps of a build's dump directory, by name."""
    if not directory.is_dir():
        return []
    found = (DumpFile.at(entry) for entry in sorted(directory.iterdir()) if entry.is_dir())
    return [dump for dump in found if dump is not None]


def read_joined(paths: list[Path], sizes: Sequence[int]) -> BinaryIO:
    """Files of these sizes read as one file, readable and seekable."""
    return io.BufferedReader(_Joined(paths, sizes), buffer_size=1 << 20)  # type: ignore[return-value]


class _Joined(io.RawIOBase):
    """Files read as one: seekable, so a byte range starts in whichever piece holds it."""

    def __init__(self, paths: list[Path], sizes: Sequence[int]) -> None:
        self._paths = paths
        self._starts = [0, *itertools.accumulate(sizes)]  # the last is the size
        self._position = 0
        self._piece = -1
        self._handle: BinaryIO | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._starts[-1]}
        self._position = max(base[whence] + offset, 0)
        return self._position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while self._position < self._starts[-1]:
            piece = bisect.bisect_right(self._starts, self._position) - 1
            if piece != self._piece or self._handle is None:
                self._close_piece()
                self._handle = self._paths[piece].open("rb", buffering=0)
                self._piece = piece
            self._handle.seek(self._position - self._starts[piece])
            count = self._handle.readinto(buffer)  # type: ignore[attr-defined]
            if count:
                self._position += count
                return int(count)
            # A file shorter than its index says: the dump or graph file is damaged.
            raise OSError(f"{self._paths[piece]}: shorter than its index says")
        return 0

    def _close_piece(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def close(self) -> None:
        self._close_piece()
        super().close()
