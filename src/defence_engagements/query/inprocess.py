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

from defence_engagements.errors import QueryTimeoutError
from defence_engagements.query import QueryRequest, QueryResponse
from defence_engagements.query.evaluation import response_of, run_query
from defence_engagements.query.service_policy import ServicePolicy
from defence_engagements.store import CurrentBuild, PublishedBuild


class InProcessExecutor:
    def __init__(
        self, current_link: Path, *, policy: ServicePolicy | None = None, threads: int = 4
    ) -> None:
        # Without an allow-list, SERVICE is refused: pyoxigraph would call any URL.
        self.policy = policy or ServicePolicy()
        self._current = CurrentBuild(current_link)
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="query")

    def published(self) -> PublishedBuild:
        """The build ``current`` points at now; reopened when the link was switched."""
        with self._lock:
            return self._current.get()

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
        return response_of(written, kind, fmt, started)

    async def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
