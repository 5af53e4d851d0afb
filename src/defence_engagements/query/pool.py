"""Run queries in a pool of worker processes that can be stopped.

pyoxigraph cannot cancel a running query, so each query runs in a worker process
that opens the published store read-only; when the query's time is up the worker
is killed (SIGKILL) and replaced. Workers serialise results themselves (enforcing
``max_rows`` while writing), check the SERVICE policy right before running, and
reopen the store when ``build/current`` has been switched to a new build — a query
in flight finishes on the store it started with.

Each worker is reached over its own Unix socket pair, read by the event loop itself
(an :class:`asyncio.Protocol`): a query is one length-prefixed pickle out and one
back, with no thread in between, and its time limit is a timer on the loop that
kills the worker. Workers are started by a fork server that has imported this
module already, so a replacement is ready in milliseconds and never inherits the
server's threads.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import multiprocessing
import os
import pickle
import re
import signal
import socket
import struct
import time
from pathlib import Path
from typing import Any

from defence_engagements import formats
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
from defence_engagements.query.evaluation import run_query
from defence_engagements.query.service_policy import ServicePolicy, find_service_calls
from defence_engagements.store import CurrentBuild

log = logging.getLogger(__name__)

_SLOW_QUERY_NICENESS = 10
# Cheap pre-filter: only such queries are read closely (off the event loop).
_MAY_CALL_SERVICE = re.compile(r"service|\\u", re.IGNORECASE)
# Every message on a worker's socket: its length (8 bytes, big-endian), then a pickle.
_HEADER = struct.Struct("!Q")
_FORMATS = {fmt.name: fmt for fmt in formats.ALL_FORMATS}
_REPLACEMENT_WAIT = 5.0  # seconds a query's answer may wait for its worker's replacement


def _message(request: QueryRequest) -> tuple[Any, ...]:
    """What a worker needs of a request, as plain values (cheap to pickle)."""
    return (
        request.query,
        request.results_format.name if request.results_format else None,
        request.graph_format.name if request.graph_format else None,
        request.default_graph_uris,
        request.named_graph_uris,
        request.max_rows,
    )


# --- inside a worker process -----------------------------------------------------------


class _WorkerState:
    def __init__(self, current_link: Path, policy: ServicePolicy) -> None:
        self.current = CurrentBuild(current_link)
        self.policy = policy

    def run(self, message: tuple[Any, ...]) -> tuple[Any, ...]:
        started = time.monotonic()
        query, results_name, graph_name, default_graphs, named_graphs, max_rows = message
        request = QueryRequest(
            query=query,
            results_format=_FORMATS.get(results_name) if results_name else None,
            graph_format=_FORMATS.get(graph_name) if graph_name else None,
            default_graph_uris=default_graphs,
            named_graph_uris=named_graphs,
            max_rows=max_rows,
        )
        try:
            build = self.current.get()
            self.policy.check(query)
            written, kind, fmt = run_query(build.store, request)
        except ServiceNotAllowedError as error:
            return ("service", error.iri, error.reason)
        except StoreUnavailableError as error:
            return ("store", error.message)
        except NotAcceptableError as error:
            return ("not_acceptable", error.message)
        except QuerySyntaxError as error:
            return ("syntax", error.message)
        except (OSError, RuntimeError, ValueError, TypeError) as error:
            return ("failed", f"{type(error).__name__}: {error}")
        return (
            "ok",
            kind.value,
            fmt.name,
            written.body,
            written.rows,
            written.truncated,
            time.monotonic() - started,
        )


class _BlockingChannel:
    """The worker's end of its socket: whole messages in, whole messages out."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.setblocking(True)
        self._pending = bytearray()

    def _fill(self, size: int) -> None:
        while len(self._pending) < size:
            chunk = self.sock.recv(max(65536, size - len(self._pending)))
            if not chunk:
                raise EOFError("the server closed the channel")
            self._pending += chunk

    def receive(self) -> Any:
        self._fill(_HEADER.size)
        (size,) = _HEADER.unpack_from(self._pending)
        self._fill(_HEADER.size + size)
        payload = bytes(self._pending[_HEADER.size : _HEADER.size + size])
        del self._pending[: _HEADER.size + size]
        return pickle.loads(payload)

    def send(self, message: Any) -> None:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        header = _HEADER.pack(len(payload))
        if len(payload) < 1 << 20:
            self.sock.sendall(header + payload)  # one system call for the common answer
        else:
            self.sock.sendall(header)
            self.sock.sendall(payload)


def _worker_main(sock: socket.socket, current_link: str, policy: ServicePolicy) -> None:
    # The server handles Ctrl-C and stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    state = _WorkerState(Path(current_link), policy)
    channel = _BlockingChannel(sock)
    while True:
        try:
            message = channel.receive()
        except (EOFError, OSError):
            return
        channel.send(state.run(message))


# --- in the server process -------------------------------------------------------------


class _WorkerGone(Exception):
    """The worker stopped without answering."""


class _OutOfTime(Exception):
    """The query's time limit passed before the worker answered (the worker is killed)."""


class _Channel(asyncio.Protocol):
    """The server's end of a worker's socket, read by the event loop: one question at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buffer = bytearray()
        self._size = -1  # of the message being received; -1 while its header is awaited
        self._waiter: asyncio.Future[tuple[Any, ...]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if not self._buffer and self._size < 0 and len(data) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(data)
            if len(data) == _HEADER.size + size:  # the usual case: one answer, one read
                self._deliver(memoryview(data)[_HEADER.size :])
                return
        self._buffer += data
        while True:
            if self._size < 0:
                if len(self._buffer) < _HEADER.size:
                    return
                (self._size,) = _HEADER.unpack_from(self._buffer)
                del self._buffer[: _HEADER.size]
            if len(self._buffer) < self._size:
                return
            payload = bytes(self._buffer[: self._size])
            del self._buffer[: self._size]
            self._size = -1
            self._deliver(payload)

    def _deliver(self, payload: bytes | memoryview) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return  # an answer nobody waits for any more (its query was given up)
        try:
            waiter.set_result(pickle.loads(payload))
        except Exception as error:  # a garbled answer is the worker's failure
            waiter.set_exception(_WorkerGone(f"unreadable answer: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.fail(_WorkerGone(str(exc) if exc else "the worker closed its channel"))

    def fail(self, error: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def ask(self, message: tuple[Any, ...]) -> asyncio.Future[tuple[Any, ...]]:
        if self.closed or self.transport is None or self.transport.is_closing():
            raise _WorkerGone("the worker's channel is closed")
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(_HEADER.pack(len(payload)) + payload)
        return self._waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _Worker:
    """One worker process and the channel to it; restarted in place when it must go."""

    def __init__(self, index: int, context: Any, current_link: Path, policy: ServicePolicy):
        self.index = index
        self._context = context
        self._current_link = current_link
        self._policy = policy
        self.process: Any = None
        self.channel = _Channel()
        self.demoted = False

    def _spawn(self) -> socket.socket:
        """Start the process (blocking: run off the event loop); the server's socket end."""
        server_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            process = self._context.Process(
                target=_worker_main,
                args=(worker_end, str(self._current_link), self._policy),
                name=f"engagements-query-{self.index}",
                daemon=True,
            )
            process.start()
        except BaseException:
            server_end.close()
            raise
        finally:
            worker_end.close()
        self.process = process
        log.info("query worker %d started (pid %s)", self.index, process.pid)
        return server_end

    async def start(self) -> None:
        server_end = await asyncio.to_thread(self._spawn)
        await self._connect(server_end)

    async def _connect(self, server_end: socket.socket) -> None:
        server_end.setblocking(False)
        channel = _Channel()
        loop = asyncio.get_running_loop()
        await loop.create_unix_connection(lambda: channel, sock=server_end)
        self.channel = channel
        self.demoted = False

    def demote(self) -> None:
        """Lower the CPU priority of a worker whose query is slow: quick ones go first."""
        with contextlib.suppress(OSError):
            if self.process is not None and self.process.is_alive():
                os.setpriority(os.PRIO_PROCESS, self.process.pid, _SLOW_QUERY_NICENESS)
                self.demoted = True

    def kill(self) -> None:
        """Stop the worker now, whatever it is doing (never blocks)."""
        self.channel.close()
        with contextlib.suppress(OSError):
            if self.process is not None and self.process.is_alive():
                os.kill(self.process.pid, signal.SIGKILL)

    def _reap(self) -> None:
        if self.process is not None:
            self.process.join(timeout=5)

    async def restart(self) -> None:
        self.kill()
        await asyncio.to_thread(self._reap)
        await self.start()

    def stop(self) -> None:
        """Kill and wait for the process (blocking: at shutdown or off the loop)."""
        self.kill()
        self._reap()

    async def run(
        self, message: tuple[Any, ...], limit: float, demote_after: float
    ) -> tuple[Any, ...]:
        """The worker's answer; _OutOfTime (the worker killed) when ``limit`` passed first."""
        loop = asyncio.get_running_loop()
        answer = self.channel.ask(message)

        def out_of_time() -> None:
            if not answer.done():
                self.kill()
                answer.set_exception(_OutOfTime())

        timers = [loop.call_later(limit, out_of_time)]
        if demote_after < limit:
            timers.append(loop.call_later(demote_after, self.demote))
        try:
            return await answer
        finally:
            for timer in timers:
                timer.cancel()


class _IdleWorkers:
    """Idle workers, handed to waiting queries in the order they began to wait.

    A released worker goes straight to the longest-waiting query; a query that
    arrives meanwhile cannot take it first, and a waiter keeps its place however
    often it wakes to look at the clock (asyncio.Queue gives neither: a get that
    times out joins the back again, and a woken getter can be overtaken).
    """

    def __init__(self, workers: list[_Worker]) -> None:
        self._idle: collections.deque[_Worker] = collections.deque(workers)
        self._waiters: collections.deque[asyncio.Future[_Worker]] = collections.deque()

    def __contains__(self, worker: _Worker) -> bool:
        return worker in self._idle

    def __len__(self) -> int:
        return len(self._idle)

    @property
    def waiting(self) -> bool:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()  # gave up its place (or was served)
        return bool(self._waiters)

    def put(self, worker: _Worker) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    def take(self) -> _Worker | None:
        """An idle worker, if no query is waiting for one already."""
        return self._idle.popleft() if self._idle and not self.waiting else None

    def wait(self) -> asyncio.Future[_Worker]:
        """A place in the line: resolved with the worker when its turn comes."""
        waiter: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return waiter

    def leave(self, waiter: asyncio.Future[_Worker]) -> None:
        """Give up a place; a worker it was handed meanwhile goes to the next in line."""
        if waiter.done() and not waiter.cancelled():
            self.put(waiter.result())
        else:
            waiter.cancel()


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
        self._idle: _IdleWorkers | None = None
        self._starting: asyncio.Lock | None = None
        self._closed = False
        self._chores: set[asyncio.Task[None]] = set()  # replacements and retirements under way

    async def start(self) -> None:
        if self._idle is not None:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._idle is not None:
                return
            self._context = multiprocessing.get_context("forkserver")
            self._context.set_forkserver_preload([__name__])
            workers = [self._new_worker() for _ in range(self.size)]
            ends = await asyncio.to_thread(lambda: [worker._spawn() for worker in workers])
            for worker, end in zip(workers, ends, strict=True):
                await worker._connect(end)
            self._workers = workers
            self._idle = _IdleWorkers(workers)

    def _new_worker(self) -> _Worker:
        self._spawned += 1
        return _Worker(self._spawned, self._context, self.current_link, self.policy)

    def _may_burst(self) -> bool:
        if self._spawning or len(self._workers) >= self.max_size or not self._busy_since:
            return False
        return time.monotonic() - max(self._busy_since.values()) >= self.burst_after

    async def _acquire(self, wait: float) -> _Worker:
        assert self._idle is not None
        deadline = time.monotonic() + wait
        waiter: asyncio.Future[_Worker] | None = None
        try:
            while True:
                worker = self._idle.take() if waiter is None else None
                if waiter is not None and waiter.done():
                    worker, waiter = waiter.result(), None
                if worker is None:
                    if self._may_burst():
                        return await self._burst()
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise OverloadedError(
                            f"all {len(self._workers)} query workers are busy; "
                            "try again in a few seconds"
                        )
                    waiter = waiter or self._idle.wait()
                    # Wakes to look for a burst now and then, keeping its place in line.
                    await asyncio.wait({waiter}, timeout=min(remaining, self.burst_after))
                    continue
                if worker.channel.closed:
                    # It died while idle (the OOM killer, an operator): no query's fault.
                    self._replace(worker, "it died while idle")
                    continue
                return worker
        finally:
            if waiter is not None:
                self._idle.leave(waiter)

    async def _burst(self) -> _Worker:
        """An extra worker, started because slow queries hold every worker."""
        self._spawning = True
        try:
            worker = self._new_worker()
            await worker.start()
        finally:
            self._spawning = False
        self._workers.append(worker)
        log.info("all query workers held by slow queries: extra worker %d", worker.index)
        return worker

    def _release(self, worker: _Worker) -> None:
        assert self._idle is not None
        self._busy_since.pop(id(worker), None)
        if self._closed:
            return
        if len(self._workers) > self.size and len(self._idle) and not self._idle.waiting:
            # Another worker is idle already: this extra one is not needed any more.
            self._workers.remove(worker)
            self._chore(asyncio.to_thread(worker.stop))
            return
        self._idle.put(worker)

    def _chore(self, work: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)
        return task

    def _replace(
        self, worker: _Worker, why: str, level: int = logging.WARNING
    ) -> asyncio.Task[None]:
        """Kill the worker now and put a fresh one in its place (in the background)."""
        pid = worker.process.pid if worker.process is not None else None
        log.log(level, "query worker %d (pid %s) replaced: %s", worker.index, pid, why)
        worker.kill()
        return self._chore(self._restart_and_release(worker))

    @staticmethod
    async def _replaced(replacement: asyncio.Task[None]) -> None:
        """Wait (a bounded time) until a replaced worker is back: the pool is whole again
        before the query that cost it a worker is answered."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(replacement), _REPLACEMENT_WAIT)

    async def _restart_and_release(self, worker: _Worker) -> None:
        delay = 0.5
        while not self._closed:
            try:
                await worker.restart()
                break
            except Exception:
                log.exception("query worker %d could not be restarted; trying again", worker.index)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        self._release(worker)

    async def execute(self, request: QueryRequest) -> QueryResponse:
        if self._closed:
            raise OverloadedError("the query service is shutting down")
        if len(request.query) > self.max_query_length:
            raise QueryError(
                f"the query is {len(request.query)} characters long; "
                f"this server accepts at most {self.max_query_length}"
            )
        await self.start()
        limit = request.timeout
        if _MAY_CALL_SERVICE.search(request.query) and await asyncio.to_thread(
            find_service_calls, request.query
        ):
            limit = min(limit, self.service_timeout)
        worker = await self._acquire(min(self.queue_timeout, max(limit, 0.1)))
        started = time.monotonic()
        self._busy_since[id(worker)] = started
        try:
            answer = await worker.run(_message(request), limit, self.burst_after)
        except asyncio.CancelledError:
            # The client went away: free the worker rather than finish a query nobody reads.
            self._replace(worker, "its client went away")
            raise
        except _OutOfTime:
            elapsed = time.monotonic() - started
            await self._replaced(self._replace(worker, f"its query ran out of time ({limit:g} s)"))
            raise QueryTimeoutError(limit, elapsed) from None
        except _WorkerGone as gone:
            code = worker.process.exitcode if worker.process is not None else None
            await self._replaced(
                self._replace(worker, f"it died while running a query (exit code {code}): {gone}")
            )
            raise WorkerCrashedError(
                "the query stopped its worker process unexpectedly "
                f"(exit code {code}); the worker was replaced"
            ) from None
        except BaseException:
            self._replace(worker, "an unexpected error in the server")
            raise
        if worker.demoted:
            # Niceness cannot be raised back without privileges: start afresh.
            await self._replaced(
                self._replace(worker, "back to normal priority after a slow query", logging.INFO)
            )
        else:
            self._release(worker)
        return _response_or_raise(answer)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._chores):
            task.cancel()
        for worker in self._workers:
            worker.kill()
        for worker in self._workers:
            worker._reap()


def _response_or_raise(answer: tuple[Any, ...]) -> QueryResponse:
    status = answer[0]
    if status == "ok":
        _, kind, fmt, body, rows, truncated, elapsed = answer
        return QueryResponse(
            kind=ResultKind(kind),
            format=_FORMATS[fmt],
            body=body,
            rows=rows,
            truncated=truncated,
            elapsed=elapsed,
        )
    if status == "syntax":
        raise QuerySyntaxError(answer[1])
    if status == "service":
        raise ServiceNotAllowedError(answer[1], answer[2])
    if status == "not_acceptable":
        raise NotAcceptableError(answer[1])
    if status == "store":
        raise StoreUnavailableError(answer[1])
    raise QueryError(f"the query failed while running: {answer[1]}")
