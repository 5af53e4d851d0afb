"""Run queries in a pool of worker processes that can be stopped.

pyoxigraph cannot cancel a running query, so each query runs in a worker process
that opens the published store read-only; when the query's time is up the worker
is killed (SIGKILL) and replaced. Workers serialise results themselves (enforcing
``max_rows`` while writing), check the SERVICE policy right before running, and
reopen the store when ``build/current`` has been switched to a new build — a query
in flight finishes on the store it started with.

Workers are started by a fork server that has imported this module already, so a
replacement is ready in milliseconds and never inherits the server's threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pyoxigraph

from defence_engagements.errors import (
    NotAcceptableError,
    OverloadedError,
    QueryError,
    QuerySyntaxError,
    QueryTimeoutError,
    ServiceNotAllowedError,
    StoreUnavailableError,
    WorkerCrashedError,
)
from defence_engagements.query import QueryRequest, QueryResponse, ResultKind
from defence_engagements.query.results_writer import (
    Written,
    write_boolean,
    write_graph,
    write_solutions,
)
from defence_engagements.query.service_policy import ServicePolicy, find_service_calls
from defence_engagements.store import PublishedBuild, open_published_build

log = logging.getLogger(__name__)

_SLOW_QUERY_NICENESS = 10
# Cheap pre-filter: only such queries are read closely (off the event loop).
_MAY_CALL_SERVICE = re.compile(r"service|\\u", re.IGNORECASE)


@dataclass(frozen=True)
class _Job:
    request: QueryRequest


# --- inside a worker process -----------------------------------------------------------


class _WorkerState:
    def __init__(self, current_link: Path, policy: ServicePolicy) -> None:
        self.current_link = current_link
        self.policy = policy
        self.build: PublishedBuild | None = None

    def published(self) -> PublishedBuild:
        """The build ``current`` points at now, reopened when it has been switched."""
        target = self.current_link.resolve()
        if self.build is None or self.build.root != target:
            self.build = None  # release the old store before opening the new one
            self.build = open_published_build(self.current_link)
        return self.build

    def run(self, request: QueryRequest) -> tuple[Any, ...]:
        started = time.monotonic()
        try:
            build = self.published()
            self.policy.check(request.query)
            written, kind, fmt = _execute(build.store, request)
        except ServiceNotAllowedError as error:
            return ("service", error.iri, error.reason)
        except StoreUnavailableError as error:
            return ("store", error.message)
        except NotAcceptableError as error:
            return ("not_acceptable", error.message)
        except SyntaxError as error:
            return ("syntax", str(error))
        except (OSError, RuntimeError, ValueError, TypeError) as error:
            return ("failed", f"{type(error).__name__}: {error}")
        return (
            "ok",
            QueryResponse(
                kind=kind,
                format=fmt,
                body=written.body,
                rows=written.rows,
                truncated=written.truncated,
                elapsed=time.monotonic() - started,
            ),
        )


def _execute(store: pyoxigraph.Store, request: QueryRequest) -> tuple[Written, ResultKind, Any]:
    options: dict[str, Any] = {}
    if request.default_graph_uris:
        options["default_graph"] = [pyoxigraph.NamedNode(i) for i in request.default_graph_uris]
    else:
        options["use_default_graph_as_union"] = True
    if request.named_graph_uris:
        options["named_graphs"] = [pyoxigraph.NamedNode(i) for i in request.named_graph_uris]
    result = store.query(request.query, **options)
    if isinstance(result, pyoxigraph.QueryBoolean):
        fmt = _need(request.results_format, "ASK")
        return write_boolean(bool(result), fmt), ResultKind.BOOLEAN, fmt
    if isinstance(result, pyoxigraph.QuerySolutions):
        fmt = _need(request.results_format, "SELECT")
        return write_solutions(result, fmt, request.max_rows), ResultKind.SOLUTIONS, fmt
    fmt = _need(request.graph_format, "CONSTRUCT/DESCRIBE")
    return write_graph(result, fmt, request.max_rows), ResultKind.GRAPH, fmt


def _need(fmt: Any, kind: str) -> Any:
    if fmt is None:
        raise NotAcceptableError(f"none of the accepted media types can carry a {kind} result")
    return fmt


def _worker_main(connection: Connection, current_link: str, policy: ServicePolicy) -> None:
    # The server handles Ctrl-C and stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    state = _WorkerState(Path(current_link), policy)
    while True:
        try:
            job: _Job = connection.recv()
        except (EOFError, OSError):
            return
        connection.send(state.run(job.request))


# --- in the server process -------------------------------------------------------------


class _WorkerGone(Exception):
    """The worker stopped without answering."""


class _Worker:
    """One worker process and the pipe to it; restarted in place when it must go."""

    def __init__(self, index: int, context: Any, current_link: Path, policy: ServicePolicy):
        self.index = index
        self._context = context
        self._current_link = current_link
        self._policy = policy
        self._lock = threading.Lock()
        self.process: Any = None
        self.connection: Connection | None = None
        self.cancelled = False
        self.demoted = False
        self.start()

    def start(self) -> None:
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main,
            args=(child_end, str(self._current_link), self._policy),
            name=f"engagements-query-{self.index}",
            daemon=True,
        )
        process.start()
        child_end.close()
        self.process, self.connection = process, parent_end
        self.cancelled = False
        self.demoted = False
        log.info("query worker %d started (pid %s)", self.index, process.pid)

    def restart(self, why: str, level: int = logging.WARNING) -> None:
        old_pid = self.process.pid if self.process else None
        self.stop()
        log.log(level, "query worker %d (pid %s) replaced: %s", self.index, old_pid, why)
        self.start()

    def demote(self) -> None:
        """Lower the CPU priority of a worker whose query is slow: quick ones go first."""
        with self._lock, contextlib.suppress(OSError):
            if self.process is not None and self.process.is_alive():
                os.setpriority(os.PRIO_PROCESS, self.process.pid, _SLOW_QUERY_NICENESS)
                self.demoted = True

    def stop(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
        if self.process is not None:
            self.process.join(timeout=5)
        if self.connection is not None:
            self.connection.close()

    def kill(self) -> None:
        """Stop the current query now (from another thread); ``run`` sees a gone worker."""
        self.cancelled = True
        with self._lock:
            if self.process is not None and self.process.is_alive():
                os.kill(self.process.pid, signal.SIGKILL)

    def run(
        self, request: QueryRequest, limit: float, demote_after: float
    ) -> tuple[Any, ...] | None:
        """The worker's answer, or None when ``limit`` seconds passed first."""
        assert self.connection is not None
        try:
            started = time.monotonic()
            self.connection.send(_Job(request))
            if not self.connection.poll(min(limit, demote_after)):
                self.demote()
                if not self.connection.poll(max(0.0, limit - (time.monotonic() - started))):
                    return None
            return self.connection.recv()
        except (EOFError, OSError, BrokenPipeError) as exc:
            raise _WorkerGone(str(exc) or type(exc).__name__) from exc


class WorkerPoolExecutor:
    """A :class:`~defence_engagements.query.QueryExecutor` over worker processes.

    ``current_link`` is ``build/current``; ``workers`` processes run queries in
    parallel; a query waits at most ``queue_timeout`` seconds for a free worker
    (then OverloadedError); longer queries than ``max_query_length`` are refused;
    a query that calls SERVICE runs for at most
    ``service_timeout`` seconds, as pyoxigraph's HTTP client has no time limit.

    A query still running after ``burst_after`` seconds is slow: its worker's CPU
    priority is lowered (niceness 10) so quick queries and the web server go first,
    and the worker is replaced once it answers. When every worker is held by a slow
    query, up to ``burst_workers`` extra workers are started so quick queries keep
    flowing; extras retire as soon as workers sit idle.
    """

    def __init__(
        self,
        current_link: Path,
        *,
        workers: int = 2,
        policy: ServicePolicy | None = None,
        service_timeout: float = 10.0,
        queue_timeout: float = 10.0,
        max_query_length: int = 100_000,
        burst_workers: int | None = None,
        burst_after: float = 0.25,
    ) -> None:
        self.current_link = current_link
        self.size = max(1, workers)
        self.policy = policy or ServicePolicy()
        self.service_timeout = service_timeout
        self.queue_timeout = queue_timeout
        self.max_query_length = max_query_length
        self.max_size = self.size + (self.size if burst_workers is None else max(0, burst_workers))
        self.burst_after = burst_after
        self._workers: list[_Worker] = []
        self._busy_since: dict[int, float] = {}  # id(worker) → when its query started
        self._spawning = False
        self._spawned = 0
        self._context: Any = None
        self._idle: asyncio.Queue[_Worker] | None = None
        self._threads = ThreadPoolExecutor(self.max_size + 1, thread_name_prefix="query-pool")
        self._starting: asyncio.Lock | None = None
        self._closed = False

    async def start(self) -> None:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._idle is not None:
                return
            loop = asyncio.get_running_loop()
            self._workers = await loop.run_in_executor(self._threads, self._spawn_all)
            idle: asyncio.Queue[_Worker] = asyncio.Queue()
            for worker in self._workers:
                idle.put_nowait(worker)
            self._idle = idle

    def _spawn_all(self) -> list[_Worker]:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([__name__])
        return [self._spawn_one() for _ in range(self.size)]

    def _spawn_one(self) -> _Worker:
        self._spawned += 1
        return _Worker(self._spawned, self._context, self.current_link, self.policy)

    def _may_burst(self) -> bool:
        if self._spawning or len(self._workers) >= self.max_size or not self._busy_since:
            return False
        return time.monotonic() - max(self._busy_since.values()) >= self.burst_after

    async def _acquire(self, wait: float) -> _Worker:
        assert self._idle is not None
        deadline = time.monotonic() + wait
        while True:
            if self._may_burst():
                self._spawning = True
                try:
                    loop = asyncio.get_running_loop()
                    worker = await loop.run_in_executor(self._threads, self._spawn_one)
                finally:
                    self._spawning = False
                self._workers.append(worker)
                log.info("all query workers held by slow queries: extra worker %d", worker.index)
                return worker
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OverloadedError(
                    f"all {len(self._workers)} query workers are busy; try again in a few seconds"
                )
            try:
                return await asyncio.wait_for(
                    self._idle.get(), timeout=min(remaining, self.burst_after)
                )
            except TimeoutError:
                continue

    def _release(self, worker: _Worker) -> None:
        assert self._idle is not None
        self._busy_since.pop(id(worker), None)
        waiting = bool(getattr(self._idle, "_getters", None))
        if len(self._workers) > self.size and not self._idle.empty() and not waiting:
            # Another worker is idle already: this extra one is not needed any more.
            self._workers.remove(worker)
            self._threads.submit(worker.stop)
            return
        self._idle.put_nowait(worker)

    async def execute(self, request: QueryRequest) -> QueryResponse:
        if self._closed:
            raise OverloadedError("the query service is shutting down")
        if len(request.query) > self.max_query_length:
            raise QueryError(
                f"the query is {len(request.query)} characters long; "
                f"this server accepts at most {self.max_query_length}"
            )
        await self.start()
        assert self._idle is not None
        limit = request.timeout
        if _MAY_CALL_SERVICE.search(request.query) and await asyncio.to_thread(
            find_service_calls, request.query
        ):
            limit = min(limit, self.service_timeout)
        worker = await self._acquire(min(self.queue_timeout, max(limit, 0.1)))
        self._busy_since[id(worker)] = time.monotonic()
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        future = loop.run_in_executor(self._threads, self._run_on, worker, request, limit)
        try:
            answer = await asyncio.shield(future)
        except asyncio.CancelledError:
            # The client went away: free the worker rather than finish a query nobody reads.
            worker.kill()
            future.add_done_callback(lambda _: self._release(worker))
            raise
        except BaseException:
            self._release(worker)
            raise
        self._release(worker)
        return _response_or_raise(answer, limit, time.monotonic() - started)

    def _run_on(self, worker: _Worker, request: QueryRequest, limit: float) -> tuple[Any, ...]:
        """In a pool thread: run, and restart the worker if it timed out or died."""
        try:
            answer = worker.run(request, limit, self.burst_after)
        except _WorkerGone as gone:
            if worker.cancelled:
                worker.restart("its client went away")
                return ("cancelled",)
            code = worker.process.exitcode if worker.process else None
            worker.restart(f"it died while running a query (exit code {code}): {gone}")
            return ("died", code)
        if answer is None:
            worker.restart(f"its query ran out of time ({limit:g} s)")
            return ("timeout",)
        if worker.demoted:
            # Niceness cannot be raised back without privileges: start afresh.
            worker.restart("back to normal priority after a slow query", logging.INFO)
        return answer

    async def close(self) -> None:
        self._closed = True
        for worker in self._workers:
            worker.stop()
        self._threads.shutdown(wait=False, cancel_futures=True)


def _response_or_raise(answer: tuple[Any, ...], limit: float, elapsed: float) -> QueryResponse:
    status = answer[0]
    if status == "ok":
        return answer[1]
    if status == "timeout":
        raise QueryTimeoutError(limit, elapsed)
    if status == "syntax":
        raise QuerySyntaxError(answer[1])
    if status == "service":
        raise ServiceNotAllowedError(answer[1], answer[2])
    if status == "not_acceptable":
        raise NotAcceptableError(answer[1])
    if status == "store":
        raise StoreUnavailableError(answer[1])
    if status == "died":
        raise WorkerCrashedError(
            "the query stopped its worker process unexpectedly "
            f"(exit code {answer[1]}); the worker was replaced"
        )
    if status == "cancelled":
        raise QueryError("the query was abandoned by its client")
    raise QueryError(f"the query failed while running: {answer[1]}")
