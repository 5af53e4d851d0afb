"""Running SPARQL queries: the request/response shapes every executor shares.

The web layer negotiates formats, builds a :class:`QueryRequest` and awaits an
executor; executors (in-process, worker pool, remote endpoint) return the
serialised body. Serialising inside the executor keeps terms from crossing
process boundaries and lets a worker enforce ``max_rows`` while it writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from defence_engagements.formats import Format


class ResultKind(Enum):
    SOLUTIONS = "solutions"  # SELECT
    BOOLEAN = "boolean"  # ASK
    GRAPH = "graph"  # CONSTRUCT / DESCRIBE


@dataclass(frozen=True, kw_only=True)
class QueryRequest:
    query: str
    # The negotiated format for each possible result kind; None means the client
    # accepts nothing of that kind (→ NotAcceptableError once the kind is known).
    results_format: Format | None
    graph_format: Format | None
    default_graph_uris: tuple[str, ...] = ()
    named_graph_uris: tuple[str, ...] = ()
    timeout: float = 30.0
    max_rows: int = 100_000


@dataclass(frozen=True, kw_only=True)
class QueryResponse:
    kind: ResultKind
    format: Format
    body: bytes
    rows: int | None  # solutions or triples written; None: not counted (never cut)
    truncated: bool  # max_rows was hit: the client must be told
    elapsed: float  # seconds


class QueryExecutor(Protocol):
    async def execute(self, request: QueryRequest) -> QueryResponse: ...

    async def close(self) -> None: ...
