"""Parse the Turtle sources: triples with stable blank nodes, and where each subject starts.

Blank nodes are renamed to ``<file digest>b<n>`` in order of appearance, so the same
file content always yields the same triples: a cached parse and a fresh parse are
interchangeable, and builds are reproducible.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pyoxigraph as ox

from defence_engagements.errors import ConfigurationError, RdfSyntaxError, SourceLocation

ROLES = ("ontology", "data", "shapes")

# N-Triples the build wrote itself (pyoxigraph's writer, from input already checked:
# the parse cache, the working store's dump) are read back without checking every IRI
# and language tag again. Syntax is still checked; loading a store this way is ~40%
# faster, parsing alone three times.
OWN_NTRIPLES: dict[str, Any] = {"format": ox.RdfFormat.N_TRIPLES, "lenient": True}


@dataclass(frozen=True)
class SourceFile:
    # Absolute, as text: making 100,000 Paths took a no-op build half a second.
    location: str
    name: str  # relative to the repository root, as shown to users and in build.json
    role: str  # one of ROLES
    sha256: str

    @property
    def path(self) -> Path:
        return Path(self.location)


@dataclass
class ParsedFile:
    """One parsed file. Its triples are kept as N-Triples bytes — in memory, or in the
    parse cache when ``stored_at`` is set — and made into Python objects only on use:
    a build of 100,000 files loads the bytes straight into a store."""

    source: SourceFile
    _ntriples: bytes | None = field(default=None, repr=False)
    stored_at: Path | None = None  # the parse cache's copy of the N-Triples
    stored_span: tuple[int, int] | None = None  # (offset, length) in ``stored_at``
    # The Turtle parsed, when at hand; otherwise the line index reads the file again.
    content: bytes | None = field(default=None, repr=False)
    _triples: list[ox.Triple] | None = field(default=None, repr=False)
    _lines: dict[str, int] | None = field(default=None, repr=False)

    @property
    def ntriples(self) -> bytes:
        """The file's triples as N-Triples lines, blank nodes already stable."""
        if self._ntriples is not None:
            return self._ntriples
        if self.stored_at is None:
            raise ValueError(f"{self.source.name}: parsed triples are neither kept nor stored")
        try:
            if self.stored_span is None:
                return self.stored_at.read_bytes()
            offset, length = self.stored_span
            with self.stored_at.open("rb") as pack:
                pack.seek(offset)
                return pack.read(length)
        except FileNotFoundError:
            # The cache was compacted since this entry was looked up (a build beside
            # `engagements validate`): the same bytes parse to the same triples.
            return self._parsed_again()

    def _parsed_again(self) -> bytes:
        source, content = read_source(self.source.path, self.source.name, self.source.role)
        if source.sha256 != self.source.sha256:
            raise ConfigurationError(
                f"{self.source.name}: the file changed while it was being read; run again"
            )
        return parse_turtle(source, content).ntriples

    def release(self) -> None:
        """Forget the bytes held in memory when the cache holds a copy."""
        if self.stored_at is not None:
            self._ntriples = None
            self._triples = None

    @property
    def triples(self) -> list[ox.Triple]:
        if self._triples is None:
            self._triples = [q.triple for q in ox.parse(self.ntriples, **OWN_NTRIPLES)]
        return self._triples

    @property
    def subject_lines(self) -> dict[str, int]:
        """N-Triples form of a subject (``<iri>`` or ``_:id``) → line where its statement
        starts. Made on first use: only files with findings need it, and tokenising
        every file would cost four times the parse."""
        if self._lines is None:
            content = self.content if self.content is not None else self.source.path.read_bytes()
            renamed = _stable_blank_nodes(self.source, _parse(self.source, content))
            self._lines = {
                (str(renamed[key[2:]]) if key.startswith("_:") and key[2:] in renamed else key): n
                for key, n in subject_start_lines(content.decode("utf-8", "replace")).items()
            }
        return self._lines


def read_source(path: Path, name: str, role: str) -> tuple[SourceFile, bytes]:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{name}: cannot read the file ({exc.strerror or exc})") from exc
    return SourceFile(os.fspath(path), name, role, hashlib.sha256(content).hexdigest()), content


def list_sources(
    directory: Path, root: Path, role: str, *, recursive: bool
) -> list[tuple[str, str]]:
    """The ``*.ttl`` files of one source directory (with ``recursive``, also those of
    the directories below it, but not of directories reached through a symlink), sorted
    as paths sort, each with the name it is shown under (:func:`display_name`); a
    missing directory is an error.

    Listed with ``os.scandir``, whose entries know their type without a ``stat`` each,
    and kept as text until the end: pathlib's ``rglob``, ``is_file``, ``resolve`` and
    path sorting took most of a no-op build's time at 100,000 files."""
    if not directory.is_dir():
        raise ConfigurationError(
            f"{role} directory {display_name(directory, root)} does not exist",
            detail="Set ENGAGEMENTS_" + f"{role.upper()}_DIR or run from the repository root.",
        )
    found = sorted(_ttl_files(os.fspath(directory), recursive), key=_path_order)
    namer = _Namer(root)
    return [(path, namer.name(path, is_link)) for path, is_link in found]


def _ttl_files(top: str, recursive: bool) -> Iterator[tuple[str, bool]]:
    """(path, whether it is a symlink) of each ``*.ttl`` file."""
    pending = [top]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                # A symlink counts even when dangling: reading it then says what is wrong.
                if entry.name.endswith(".ttl") and (entry.is_file() or entry.is_symlink()):
                    yield entry.path, entry.is_symlink()
                elif recursive and entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)


def _path_order(found: tuple[str, bool]) -> str:
    # Paths sort part by part ("a/x" before "a-b/x"): with each separator made the
    # lowest character, comparing the texts compares the parts.
    return found[0].replace("/", "\0")


def display_name(path: Path, root: Path) -> str:
    """The path relative to ``root`` once symlinks are resolved (or as given, outside it)."""
    return _Namer(root).name(os.fspath(path), os.path.islink(path))


class _Namer:
    """A file's real path is its directory's real path plus its name unless the file is
    itself a symlink: each directory is resolved once, not every file's whole path."""

    def __init__(self, root: Path) -> None:
        self.real_root = os.path.realpath(root)
        self.inside = self.real_root.rstrip("/") + "/"
        self.real_directories: dict[str, str] = {}

    def name(self, path: str, is_link: bool) -> str:
        if is_link:
            real = os.path.realpath(path)
        else:
            directory, _, name = path.rpartition("/")
            real_directory = self.real_directories.get(directory)
            if real_directory is None:
                real_directory = os.path.realpath(directory or ".")
                self.real_directories[directory] = real_directory
            real = f"{real_directory.rstrip('/')}/{name}"
        if real == self.real_root:
            return "."
        if real.startswith(self.inside):
            return real[len(self.inside) :]
        return path


def parse_turtle(source: SourceFile, content: bytes) -> ParsedFile:
    """Parse one Turtle file; a syntax error names ``file:line:column`` and the parser's message."""
    # Most files have no blank nodes: parsed and written in Rust, with no term made into
    # a Python object (twice as fast). N-Triples writes a blank node as "_:"; a literal
    # holding those two characters only sends its file down the longer path.
    with _located(source):
        body = ox.serialize(
            ox.parse(input=content, format=ox.RdfFormat.TURTLE), format=ox.RdfFormat.N_TRIPLES
        )
    if body and b"_:" not in body:
        return ParsedFile(source, body, content=content)
    quads = _parse(source, content)
    renamed = _stable_blank_nodes(source, quads)

    def stable(term: ox.Term) -> ox.Term:
        return renamed[term.value] if isinstance(term, ox.BlankNode) else term

    triples = [
        ox.Triple(stable(q.subject), q.predicate, stable(q.object))  # type: ignore[arg-type]
        for q in quads
    ]
    return ParsedFile(
        source, ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"", content=content
    )


def _parse(source: SourceFile, content: bytes) -> list[ox.Quad]:
    with _located(source):
        return list(ox.parse(input=content, format=ox.RdfFormat.TURTLE))


@contextlib.contextmanager
def _located(source: SourceFile) -> Iterator[None]:
    """A parser's syntax error as an RdfSyntaxError naming the file, line and column."""
    try:
        yield
    except SyntaxError as exc:
        location = SourceLocation(source.name, exc.lineno, exc.offset)
        raise RdfSyntaxError(location, _parser_message(exc)) from exc


def _stable_blank_nodes(source: SourceFile, quads: list[ox.Quad]) -> dict[str, ox.BlankNode]:
    """Blank-node labels that depend on the file's bytes only, not on the parser's run."""
    renamed: dict[str, ox.BlankNode] = {}
    for quad in quads:
        for term in (quad.subject, quad.object):
            if isinstance(term, ox.BlankNode) and term.value not in renamed:
                renamed[term.value] = ox.BlankNode(f"{source.sha256[:12]}b{len(renamed)}")
    return renamed


def _parser_message(exc: SyntaxError) -> str:
    message = exc.msg or str(exc)
    # "Parser error between line 2 column 10 and line 3 column 1: <what>" → "<what>"
    return re.sub(r"^Parser error (at|between) [^:]*: ", "", message)


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<long>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*''')
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\s]*>)
  | (?P<punct>[\[\]();,])
  | (?P<word>(?:[^\s<>"'\[\]();,\#\\]|\\.)+)
    """,
    re.VERBOSE | re.DOTALL,
)


def subject_start_lines(text: str) -> dict[str, int]:
    """Where each subject's statement block starts (first occurrence), keyed as N-Triples.

    A small Turtle tokenizer: strings, IRIs and comments are skipped whole, brackets
    tracked, so only the first term of a top-level statement counts as its subject.
    Blank-node subjects are keyed by their label in the file (``_:label``).
    """
    line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
    prefixes: dict[str, str] = {}
    base = ""
    found: dict[str, int] = {}
    at_start, depth = True, 0
    directive: list[str] = []  # "@prefix"/"PREFIX"/"@base"/"BASE" and its operands so far

    def words() -> Iterable[tuple[str, str, int]]:
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup or ""
            if kind in ("ws", "comment"):
                continue
            value = match.group()
            if kind == "word" and len(value) > 1 and value.endswith(".") and not value[0].isdigit():
                yield kind, value[:-1], match.start()
                yield "word", ".", match.end() - 1
            else:
                yield kind, value, match.start()

    for kind, value, offset in words():
        if directive:
            directive.append(value)
            if kind == "iri":
                iri = urljoin(base, value[1:-1]) if base else value[1:-1]
                if directive[0].lower() in ("@prefix", "prefix") and len(directive) == 3:
                    prefixes[directive[1].rstrip(":")] = iri
                elif directive[0].lower() in ("@base", "base"):
                    base = iri
                at_start = not directive[0].startswith("@")
                directive = []
            continue
        if value == "." and depth == 0:
            at_start = True
            continue
        was_start, at_start = at_start, False
        if kind == "punct":
            depth = depth + 1 if value in "[(" else max(0, depth - 1) if value in "])" else depth
            continue
        if not was_start or depth:
            continue
        if kind == "word" and value.lower() in ("@prefix", "prefix", "@base", "base"):
            directive = [value]
            continue
        key = _subject_key(kind, value, prefixes, base)
        if key is not None and key not in found:
            found[key] = bisect.bisect_right(line_starts, offset)
    return found


_LOCAL_ESCAPE = re.compile(r"\\(.)")


def _subject_key(kind: str, value: str, prefixes: dict[str, str], base: str) -> str | None:
    if kind == "iri":
        return f"<{urljoin(base, value[1:-1]) if base else value[1:-1]}>"
    if kind != "word":
        return None
    if value.startswith("_:"):
        return value
    prefix, colon, local = value.partition(":")
    if not colon or prefix not in prefixes:
        return None
    return "<" + prefixes[prefix] + _LOCAL_ESCAPE.sub(r"\1", local) + ">"
