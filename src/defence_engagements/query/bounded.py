"""Queries whose cost is known before they run, answered in the server process.

A query sent to a worker process pays for the trip (~0.5 ms of CPU, twice what a
light query costs in the store). A worker is needed because pyoxigraph cannot stop
a query; but some queries cannot run long whatever plan the engine picks. When every
triple pattern names its subject with an IRI, each pattern is one range of the
subject-first index, no longer than that subject's triples (with that predicate):
the build records the most any subject has (pipeline/statistics.py), and when that
is too loose the range is counted here, the count stopped at the budget. Joins
multiply such bounds, UNION adds them, OPTIONAL keeps at least one row. A query like
that (the description of one resource, a few of its values) is run right away on
the event loop when its bound is under a budget; every other query, and every query
this module cannot read, goes to the workers as before; so does a request that
allows less than a second (``timeout=``), as a bounded answer runs without a clock.

The reading is deliberately narrow, a whitelist: prologue (``PREFIX``), ``SELECT``
(variables or ``*``, ``DISTINCT``/``REDUCED``), ``ASK`` or ``CONSTRUCT``, group
patterns of triples, ``OPTIONAL`` and ``UNION``, ``ORDER BY`` variables, ``LIMIT``
and ``OFFSET``. No expressions, paths, blank nodes, ``GRAPH``, subqueries or
escapes; a query with ``service`` anywhere in its text is never read. Tokens follow
the SPARQL 1.1 grammar (§19.8), and a word must end where the grammar ends it, so
a text this module accepts means the same to pyoxigraph; anything else is refused
here and left to the workers, whose answer is the reference.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph

from defence_engagements.errors import QueryError, StoreUnavailableError
from defence_engagements.query import QueryExecutor, QueryRequest, QueryResponse
from defence_engagements.query.evaluation import response_of, run_query
from defence_engagements.store import CurrentBuild

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
# Reading and counting stay small too: the reader recurses per group, and one COUNT
# query has a part per pattern.
MAX_DEPTH = 8
MAX_PATTERNS = 16
# Bounded answers run to the end without a clock (at most ``rows`` rows: milliseconds).
# A request that allows less time than this is left to the workers, who keep to it.
SHORTEST_TIMEOUT = 1.0


class NotBounded(Exception):
    """The text is outside the subset this module reads, or a pattern is unbounded."""


@dataclass(frozen=True)
class Pattern:
    """What is fixed in one triple pattern: its subject always, its predicate and
    object when they are IRIs (a literal object is not used in the count: it only
    makes the count larger, never wrong)."""

    subject: str
    predicate: str | None
    object: str | None


@dataclass(frozen=True)
class Group:
    """A group pattern: at most the product of its members' rows."""

    members: tuple[Pattern | OptionalGroup | Alternatives, ...]


@dataclass(frozen=True)
class OptionalGroup:
    """``OPTIONAL { … }``: each row on the left goes on at most max(1, the group's rows) times."""

    group: Group


@dataclass(frozen=True)
class Alternatives:
    """``{ … } UNION { … }``: at most the sum of the groups' rows."""

    groups: tuple[Group, ...]


@dataclass(frozen=True)
class Shape:
    """What bounds a query: its WHERE clause, and how many triples a solution can
    make (``CONSTRUCT``; 0 for ``SELECT`` and ``ASK``)."""

    where: Group
    patterns: tuple[Pattern, ...]  # every pattern of ``where``, in order, once each
    triples_per_row: int

    @functools.cached_property
    def count_query(self) -> str:
        """One query counting every pattern's matches, each count stopped at
        ``{limit}`` (a huge range is never walked to its end). Counting reads the
        indexes only; no term is decoded."""
        parts = []
        for index, pattern in enumerate(self.patterns):
            predicate = f"<{pattern.predicate}>" if pattern.predicate else "?p"
            obj = f"<{pattern.object}>" if pattern.object else "?o"
            parts.append(
                f"{{ SELECT (COUNT(*) AS ?c{index}) "
                f"{{ SELECT * {{ <{pattern.subject}> {predicate} {obj} }} LIMIT {{limit}} }} }}"
            )
        return "SELECT * { " + " ".join(parts) + " }"

    def rows(self, counts: dict[Pattern, int]) -> int:
        """The most solutions the WHERE clause can have, given each pattern's matches."""
        return _rows(self.where, counts)


def _rows(group: Group, counts: dict[Pattern, int]) -> int:
    product = 1
    for member in group.members:
        if isinstance(member, Pattern):
            product *= counts[member]
        elif isinstance(member, OptionalGroup):
            product *= max(1, _rows(member.group, counts))
        else:
            product *= sum(_rows(branch, counts) for branch in member.groups)
    return product


_TOKEN = re.compile(
    r"""
      (?P<space>[ \t\r\n]+|\#[^\n\r]*)
    | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    | (?P<string>"(?:[^"\\\n\r]|\\[tbnrf\\"'])*"|'(?:[^'\\\n\r]|\\[tbnrf\\"'])*')
    | (?P<lang>@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*)
    | (?P<datatype>\^\^)
    | (?P<var>[?$][A-Za-z0-9_]+)
    | (?P<pname>(?:[A-Za-z][A-Za-z0-9_-]*)?:(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?)?)
    | (?P<number>[0-9]+(?:\.[0-9]+)?)
    | (?P<word>[A-Za-z]+)
    | (?P<punct>[{}.;,*])
    """,
    re.VERBOSE,
)
# After a word-like token the grammar would go on reading any of these: refuse rather
# than split a token differently from pyoxigraph.
_WORD_GOES_ON = re.compile(r"[A-Za-z0-9_:%\\\-\u0080-\U0010ffff]|\.[A-Za-z0-9_]")
_WORDLIKE = frozenset({"var", "pname", "number", "word", "lang"})
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_NEVER = re.compile(r"service|\\u|\"\"\"|'''", re.IGNORECASE)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokens(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(query):
        match = _TOKEN.match(query, position)
        if match is None:
            raise NotBounded(f"cannot read {query[position : position + 10]!r}")
        kind = match.lastgroup or ""
        position = match.end()
        if kind == "space":
            continue
        if kind in _WORDLIKE and _WORD_GOES_ON.match(query, position):
            raise NotBounded(f"a word runs on at {position}")
        tokens.append(_Token(kind, match.group()))
    return tokens


class _Reader:
    """A recursive-descent reading of the subset; collects the WHERE clause's patterns."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0
        self.prefixes: dict[str, str] = {}
        self.triples_per_row = 0
        self.depth = 0

    # --- tokens
    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.upper() in words:
            self.position += 1
            return token.text.upper()
        return None

    def punct(self, char: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == char:
            self.position += 1
            return True
        return False

    def take(self, kind: str) -> str:
        token = self.peek()
        if token is None or token.kind != kind:
            raise NotBounded(f"expected {kind} at token {self.position}")
        self.position += 1
        return token.text

    def expect(self, char: str) -> None:
        if not self.punct(char):
            raise NotBounded(f"expected {char!r} at token {self.position}")

    # --- terms
    def iri(self, token: _Token) -> str:
        if token.kind == "iri":
            value = token.text[1:-1]
            if not _ABSOLUTE_IRI.match(value):
                raise NotBounded("a relative IRI")
            return value
        if token.kind == "pname":
            prefix, _, local = token.text.partition(":")
            if prefix not in self.prefixes:
                raise NotBounded(f"undeclared prefix {prefix!r}")
            return self.prefixes[prefix] + local
        if token.kind == "word" and token.text == "a":
            return RDF_TYPE
        raise NotBounded(f"not an IRI: {token.text!r}")

    def term(self) -> tuple[str, str | None]:
        """One subject, predicate or object: (kind, IRI or None)."""
        token = self.peek()
        if token is None:
            raise NotBounded("the query ends in a triple")
        self.position += 1
        if token.kind == "var":
            return "var", None
        if token.kind == "string":
            if self.peek() is not None and self.peek().kind == "lang":  # type: ignore[union-attr]
                self.position += 1
            elif self.peek() is not None and self.peek().kind == "datatype":  # type: ignore[union-attr]
                self.position += 1
                next_token = self.peek()
                if next_token is None:
                    raise NotBounded("a datatype is missing")
                self.position += 1
                self.iri(next_token)
            return "literal", None
        if token.kind == "number" or (token.kind == "word" and token.text in ("true", "false")):
            return "literal", None
        return "iri", self.iri(token)

    # --- grammar
    def query(self) -> Group:
        while self.keyword("PREFIX"):
            prefix = self.take("pname")
            if not prefix.endswith(":"):
                raise NotBounded("a prefix declaration with a local name")
            iri = self.iri(_Token("iri", self.take("iri")))
            self.prefixes[prefix[:-1]] = iri
        form = self.keyword("SELECT", "ASK", "CONSTRUCT")
        if form == "SELECT":
            self.keyword("DISTINCT", "REDUCED")
            if not self.punct("*"):
                self.take("var")
                while self.peek() is not None and self.peek().kind == "var":  # type: ignore[union-attr]
                    self.position += 1
            self.keyword("WHERE")
            where = self.group()
        elif form == "ASK":
            self.keyword("WHERE")
            where = self.group()
        elif form == "CONSTRUCT":
            if self.keyword("WHERE"):
                where = self.group(triples_only=True)
                self.triples_per_row = len(where.members)
            else:
                self.triples_per_row = self.template()
                self.keyword("WHERE")
                where = self.group()
        else:
            raise NotBounded("not SELECT, ASK or CONSTRUCT")
        self.modifiers()
        if self.peek() is not None:
            raise NotBounded(f"unexpected {self.peek().text!r}")  # type: ignore[union-attr]
        return where

    def template(self) -> int:
        """Reads a CONSTRUCT template; returns how many triples it has."""
        self.expect("{")
        triples = 0
        while not self.punct("}"):
            triples += sum(1 for _ in self._triples(template=True))
            self.punct(".")
        return triples

    def group(self, *, triples_only: bool = False) -> Group:
        self.expect("{")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise NotBounded(f"groups nested more than {MAX_DEPTH} deep")
        members: list[Pattern | OptionalGroup | Alternatives] = []
        while not self.punct("}"):
            token = self.peek()
            if token is None:
                raise NotBounded("a group is not closed")
            if not triples_only and token.kind == "punct" and token.text == "{":
                branches = [self.group()]
                while self.keyword("UNION"):
                    branches.append(self.group())
                members.append(Alternatives(tuple(branches)))
            elif not triples_only and self.keyword("OPTIONAL"):
                members.append(OptionalGroup(self.group()))
            else:
                members.extend(self._triples(template=False))
            self.punct(".")
        self.depth -= 1
        return Group(tuple(members))

    def _triples(self, *, template: bool) -> Iterator[Pattern]:
        """One subject and its property list (``;`` and ``,`` lists)."""
        subject_kind, subject = self.term()
        if not template and subject_kind != "iri":
            raise NotBounded("a triple pattern whose subject is not an IRI")
        while True:
            predicate_kind, predicate = self.term()
            if predicate_kind == "literal":
                raise NotBounded("a literal predicate")
            while True:
                object_kind, obj = self.term()
                yield Pattern(subject or "", predicate, obj if object_kind == "iri" else None)
                if not self.punct(","):
                    break
            if not self.punct(";"):
                return
            token = self.peek()
            if token is None or (token.kind == "punct" and token.text in ".}"):
                return  # a trailing ';' is allowed

    def modifiers(self) -> None:
        if self.keyword("ORDER"):
            if not self.keyword("BY"):
                raise NotBounded("ORDER without BY")
            self.take("var")
            while self.peek() is not None and self.peek().kind == "var":  # type: ignore[union-attr]
                self.position += 1
        while self.keyword("LIMIT", "OFFSET"):
            self.take("number")


@functools.lru_cache(maxsize=4096)
def _cached_shape(query: str) -> Shape | None:
    try:
        return shape_of(query)
    except NotBounded:
        return None


def shape_of(query: str) -> Shape:
    """How a query this module can bound is built; NotBounded otherwise."""
    if _NEVER.search(query):
        raise NotBounded("service or an escape in the text")
    reader = _Reader(_tokens(query))
    where = reader.query()
    patterns = tuple(dict.fromkeys(_patterns(where)))
    if not patterns:
        raise NotBounded("no triple pattern")
    if len(patterns) > MAX_PATTERNS:
        raise NotBounded(f"more than {MAX_PATTERNS} triple patterns")
    return Shape(where, patterns, reader.triples_per_row)


def patterns_of(query: str) -> list[Pattern]:
    """The distinct triple patterns of a query this module can bound."""
    return list(shape_of(query).patterns)


def _patterns(group: Group) -> Iterator[Pattern]:
    for member in group.members:
        if isinstance(member, Pattern):
            yield member
        elif isinstance(member, OptionalGroup):
            yield from _patterns(member.group)
        else:
            for branch in member.groups:
                yield from _patterns(branch)


def rows_bound(store: pyoxigraph.Store, query: str, budget: int) -> int | None:
    """At most how many solutions ``query`` can have on ``store``; None when the query
    is not bounded or the bound exceeds ``budget``."""
    shape = _cached_shape(query)
    return None if shape is None else _rows_within(store, shape, budget)


def rows_from_statistics(shape: Shape, bounds: dict[str, Any]) -> int:
    """The bound the build's statistics give (pipeline/statistics.py): no store access."""
    by_predicate: dict[str, int] = bounds["by_predicate"]
    most: int = bounds["any"]
    counts = {
        pattern: by_predicate.get(pattern.predicate, 0) if pattern.predicate else most
        for pattern in shape.patterns
    }
    return shape.rows(counts)


def _rows_within(store: pyoxigraph.Store, shape: Shape, budget: int) -> int | None:
    solution = next(
        iter(
            store.query(
                shape.count_query.replace("{limit}", str(budget + 1)),
                use_default_graph_as_union=True,
            )
        )
    )
    counts = {
        pattern: int(solution[f"c{index}"].value)  # type: ignore[union-attr]
        for index, pattern in enumerate(shape.patterns)
    }
    if any(count > budget for count in counts.values()):
        return None
    rows = shape.rows(counts)
    return rows if rows <= budget else None


class BoundedFirstExecutor:
    """Answers bounded queries in this process, on the event loop; every other query
    goes to ``fallback`` (the worker pool), which also reports every error."""

    def __init__(
        self,
        fallback: QueryExecutor,
        current_link: Path,
        *,
        rows: int = 10_000,
        max_query_length: int = 4096,
    ) -> None:
        self.fallback = fallback
        self.current = CurrentBuild(current_link)
        self.rows = rows
        self.max_query_length = max_query_length
        self.answered_here = 0

    async def execute(self, request: QueryRequest) -> QueryResponse:
        return self.answer_here(request) or await self.fallback.execute(request)

    def answer_here(self, request: QueryRequest) -> QueryResponse | None:
        if (
            self.rows <= 0
            or request.timeout < SHORTEST_TIMEOUT
            or len(request.query) > self.max_query_length
            or request.default_graph_uris
            or request.named_graph_uris
        ):
            return None
        shape = _cached_shape(request.query)
        if shape is None:
            return None
        try:
            build = self.current.get()
        except StoreUnavailableError:
            return None  # the workers say so, the same way for every query
        started = time.monotonic()
        # What is written is bounded too: a CONSTRUCT writes its template once a row.
        budget = self.rows // max(1, shape.triples_per_row)
        rows: int | None = None
        bounds = build.manifest.get("subject_bounds")
        if bounds is not None:
            rows = rows_from_statistics(shape, bounds)
        if rows is None or rows > budget:
            # The statistics are per graph and per predicate: counting is tighter.
            rows = _rows_within(build.store, shape, budget)
        if rows is None:
            return None
        try:
            written, kind, fmt = run_query(
                build.store, request, rows_at_most=rows * max(1, shape.triples_per_row)
            )
        except (OSError, RuntimeError, ValueError, TypeError) as error:
            raise QueryError(
                f"the query failed while running: {type(error).__name__}: {error}"
            ) from None
        self.answered_here += 1
        return response_of(written, kind, fmt, started)

    async def start(self) -> None:
        """Start the fallback now (its workers), as the app does for an executor at startup."""
        start = getattr(self.fallback, "start", None)
        if start is not None:
            await start()

    async def close(self) -> None:
        await self.fallback.close()
