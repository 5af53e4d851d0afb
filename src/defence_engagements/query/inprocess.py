"""An in-process :class:`~defence_engagements.query.QueryExecutor` over the published build.

Queries run in a thread pool, on the store ``build/current`` points at when the
query starts: the link is re-resolved for every query, so a new build is picked up
without a restart, and a query in flight keeps a reference to the build it started
on until it finishes. This executor answers QueryTimeoutError at the time limit
but cannot stop the query itself (pyoxigraph cannot cancel one); the worker pool
(query/pool.py) can, and is what `engagements serve` uses unless told otherwise.
SERVICE calls are checked against the same policy as everywhere else before
anything runs.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyoxigraph

from defence_engagements.errors import NotAcceptableError, QuerySyntaxError, QueryTimeoutError
from defence_engagements.formats import Format
from defence_engagements.query import QueryRequest, QueryResponse, ResultKind
from defence_engagements.query.results_writer import (
    Written,
    write_boolean,
    write_graph,
    write_solutions,
)
from defence_engagements.query.service_policy import ServicePolicy
from defence_engagements.store import PublishedBuild, open_published_build


class InProcessExecutor:
    def __init__(
        self, current_link: Path, *, policy: ServicePolicy | None = None, threads: int = 4
    ) -> None:
        self.current_link = current_link
        # Without an allow-list, SERVICE is refused: pyoxigraph would call any URL.
        self.policy = policy or ServicePolicy()
        self._build: PublishedBuild | None = None
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="query")

    def published(self) -> PublishedBuild:
        """The build ``current`` points at now; reopened when the link was switched."""
        target = self.current_link.resolve()
        with self._lock:
            if self._build is None or self._build.root != target:
                self._build = open_published_build(self.current_link)
            return self._build

    async def execute(self, request: QueryRequest) -> QueryResponse:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        future = loop.run_in_executor(self._threads, self._run, request)
        try:
            return await asyncio.wait_for(asyncio.shield(future), request.timeout)
        except TimeoutError:
            # The client gets its answer at the limit; the thread itself runs on.
            raise QueryTimeoutError(request.timeout, time.monotonic() - started) from None

    def _run(self, request: QueryRequest) -> QueryResponse:
        started = time.monotonic()
        self.policy.check(request.query)
        build = self.published()
        written, kind, fmt = run_query(build.store, request)
        return QueryResponse(
            kind=kind,
            format=fmt,
            body=written.body,
            rows=written.rows,
            truncated=written.truncated,
            elapsed=time.monotonic() - started,
        )

    async def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


def run_query(store: pyoxigraph.Store, request: QueryRequest) -> tuple[Written, ResultKind, Format]:
    """Evaluate ``request`` on ``store`` and write the result in the negotiated format."""
    options: dict[str, Any] = {}
    if request.default_graph_uris:
        options["default_graph"] = [pyoxigraph.NamedNode(i) for i in request.default_graph_uris]
    else:
        options["use_default_graph_as_union"] = True
    if request.named_graph_uris:
        options["named_graphs"] = [pyoxigraph.NamedNode(i) for i in request.named_graph_uris]
    try:
        result = store.query(request.query, **options)
    except SyntaxError as error:
        raise QuerySyntaxError(str(error)) from None
    except ValueError as error:  # e.g. an invalid IRI in default-graph-uri
        raise QuerySyntaxError(str(error)) from None
    if isinstance(result, pyoxigraph.QueryBoolean):
        fmt = _need(request.results_format, "an ASK")
        return write_boolean(bool(result), fmt), ResultKind.BOOLEAN, fmt
    if isinstance(result, pyoxigraph.QuerySolutions):
        fmt = _need(request.results_format, "a SELECT")
        return write_solutions(result, fmt, request.max_rows), ResultKind.SOLUTIONS, fmt
    fmt = _need(request.graph_format, "a CONSTRUCT/DESCRIBE")
    return write_graph(result, fmt, request.max_rows), ResultKind.GRAPH, fmt


def _need(fmt: Format | None, kind: str) -> Format:
    if fmt is None:
        raise NotAcceptableError(f"none of the accepted media types can carry {kind} result")
    return fmt
