"""SHA-256 whose state can be kept and taken up again, so a dump's checksum after a
rebuild hashes only what follows its first changed piece.

SHA-256 reads its input in order: the state after a file's first pieces is all that
hashing the rest needs. ``hashlib`` keeps that state to itself; OpenSSL's ``SHA256_CTX``
(a plain structure of 112 bytes, unchanged since OpenSSL 0.9.8) is reached here through
the library ``hashlib`` itself loaded, so the two are one implementation. Where that
library does not export the functions (a build of Python with OpenSSL linked in
statically, or another crypto library), :func:`resumable` says so and callers hash
every byte with ``hashlib``, as before.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import struct
from typing import Any

STATE_SIZE = 112  # SHA256_CTX: h[8], Nl, Nh, data[16], num, md_len (32-bit words)


class _Context(ctypes.Structure):
    _fields_ = [
        ("h", ctypes.c_uint32 * 8),
        ("Nl", ctypes.c_uint32),
        ("Nh", ctypes.c_uint32),
        ("data", ctypes.c_uint32 * 16),
        ("num", ctypes.c_uint32),
        ("md_len", ctypes.c_uint32),
    ]


@functools.cache
def _library() -> Any | None:
    """OpenSSL's SHA-256 functions as ``hashlib`` loaded them, checked on a known
    answer across a kept state; None when they are not there or do not agree."""
    try:
        import _hashlib

        library = ctypes.CDLL(_hashlib.__file__)
        for name in ("SHA256_Init", "SHA256_Update", "SHA256_Final"):
            getattr(library, name).restype = ctypes.c_int
    except (ImportError, OSError, AttributeError):
        return None
    if ctypes.sizeof(_Context) != STATE_SIZE:
        return None
    sample = bytes(range(256)) * 5
    first = Sha256(library=library)
    first.update(sample[:333])
    second = Sha256(first.state(), library=library)
    second.update(sample[333:])
    if second.hexdigest() != hashlib.sha256(sample).hexdigest() or second.length != len(sample):
        return None
    return library


def resumable() -> bool:
    """Whether states can be kept here (else hash with ``hashlib``)."""
    return _library() is not None


class Sha256:
    """A SHA-256 being taken, from the start or from a kept :meth:`state`."""

    def __init__(self, state: bytes | None = None, *, library: Any | None = None) -> None:
        self._library = library or _library()
        if self._library is None:
            raise RuntimeError("OpenSSL's SHA-256 functions are not available")
        if state is None:
            self._context = _Context()
            self._library.SHA256_Init(ctypes.byref(self._context))
        else:
            if len(state) != STATE_SIZE:
                raise ValueError(f"a SHA-256 state is {STATE_SIZE} bytes, not {len(state)}")
            self._context = _Context.from_buffer_copy(state)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        if not view.nbytes:
            return
        # Bytes go as a pointer to their buffer, a writable buffer (a read's) likewise:
        # no copy either way.
        if not view.readonly:
            pointer: Any = ctypes.byref(ctypes.c_char.from_buffer(view))
        else:
            pointer = data if isinstance(data, bytes) else view.tobytes()
        self._library.SHA256_Update(
            ctypes.byref(self._context), pointer, ctypes.c_size_t(view.nbytes)
        )

    def state(self) -> bytes:
        return bytes(self._context)

    @property
    def length(self) -> int:
        """Bytes hashed so far (the state counts them, in bits)."""
        low, high = struct.unpack_from("=II", self.state(), 32)
        return ((high << 32) | low) // 8

    def hexdigest(self) -> str:
        """The digest of what was hashed so far (the state is left as it was)."""
        finished = _Context.from_buffer_copy(self.state())
        out = (ctypes.c_ubyte * 32)()
        self._library.SHA256_Final(out, ctypes.byref(finished))
        return bytes(out).hex()
