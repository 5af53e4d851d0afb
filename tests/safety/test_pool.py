"""The worker-pool executor on a real on-disk store: limits that really stop queries."""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from defence_engagements import formats
from defence_engagements.errors import (
    NotAcceptableError,
    OverloadedError,
    QueryError,
    QuerySyntaxError,
    QueryTimeoutError,
    ServiceNotAllowedError,
    WorkerCrashedError,
)
from defence_engagements.query import QueryRequest, ResultKind
from defence_engagements.query.pool import WorkerPoolExecutor
from defence_engagements.query.service_policy import ServicePolicy

from .conftest import publish_tiny_build

pytestmark = pytest.mark.anyio

CARTESIAN = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def request(query: str, **options: object) -> QueryRequest:
    return QueryRequest(
        query=query,
        results_format=options.pop("results_format", formats.RESULTS_JSON),  # type: ignore[arg-type]
        graph_format=options.pop("graph_format", formats.NTRIPLES),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


def count_of(body: bytes) -> int:
    return int(json.loads(body)["results"]["bindings"][0]["n"]["value"])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def pool(tiny_build: Path) -> AsyncIterator[WorkerPoolExecutor]:
    executor = WorkerPoolExecutor(tiny_build / "current", workers=2, queue_timeout=1.0)
    await executor.start()
    yield executor
    await executor.close()


async def test_a_query_out_of_time_is_stopped_and_the_pool_keeps_answering(
    pool: WorkerPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(QueryTimeoutError) as stopped:
        await pool.execute(request(CARTESIAN, timeout=1.0))
    assert 1.0 <= time.monotonic() - started < 2.0
    assert stopped.value.limit == 1.0 and stopped.value.elapsed >= 1.0
    assert "ran out of time" in caplog.text
    for _ in range(2 * pool.size):  # every worker, the replacement included, answers
        started = time.monotonic()
        answer = await pool.execute(request("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"))
        assert count_of(answer.body) == 300
        assert time.monotonic() - started < 0.5


async def test_a_slow_query_does_not_stall_fast_ones(pool: WorkerPoolExecutor) -> None:
    slow = asyncio.create_task(pool.execute(request(CARTESIAN, timeout=2.0)))
    await asyncio.sleep(0.5)
    niceness = sorted(os.getpriority(os.PRIO_PROCESS, w.process.pid) for w in pool._workers)
    assert niceness[-1] == 10 and niceness[0] < 10  # the slow one yields the CPU
    started = time.monotonic()
    for _ in range(20):
        await pool.execute(request("ASK { ?s ?p ?o }"))
    assert not slow.done()  # all twenty answered while the slow one still ran
    assert time.monotonic() - started < 1.5
    with pytest.raises(QueryTimeoutError):
        await slow


async def test_results_stop_at_max_rows_and_say_so(pool: WorkerPoolExecutor) -> None:
    for fmt in formats.RESULTS_FORMATS:
        answer = await pool.execute(
            request("SELECT * { ?s ?p ?o }", max_rows=7, results_format=fmt)
        )
        assert (answer.rows, answer.truncated, answer.format) == (7, True, fmt)
    told = json.loads((await pool.execute(request("SELECT * { ?s ?p ?o }", max_rows=7))).body)
    assert told["truncated"] is True and "first 7 solutions" in told["warning"]
    whole = await pool.execute(request("SELECT * { ?s ?p ?o }", max_rows=300))
    assert (whole.rows, whole.truncated) == (300, False)
    assert len(json.loads(whole.body)["results"]["bindings"]) == 300
    assert "truncated" not in json.loads(whole.body)
    graph = await pool.execute(request("CONSTRUCT WHERE { ?s ?p ?o }", max_rows=10))
    assert graph.kind is ResultKind.GRAPH and (graph.rows, graph.truncated) == (10, True)
    assert len(graph.body.decode().strip().splitlines()) == 10


async def test_errors_are_the_documented_classes(pool: WorkerPoolExecutor) -> None:
    with pytest.raises(QuerySyntaxError):
        await pool.execute(request("SELEC * { ?s ?p ?o }"))
    with pytest.raises(ServiceNotAllowedError):
        await pool.execute(request("SELECT * { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"))
    with pytest.raises(NotAcceptableError):
        await pool.execute(request("CONSTRUCT WHERE { ?s ?p ?o }", graph_format=None))
    with pytest.raises(QueryError, match="characters long"):
        await pool.execute(request("ASK {}" + " " * 200_000))


async def test_a_dead_worker_is_replaced_and_logged(
    pool: WorkerPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    victim = asyncio.create_task(pool.execute(request(CARTESIAN, timeout=5.0)))
    await asyncio.sleep(0.3)
    busy = _busy_workers(pool)
    assert len(busy) == 1
    with caplog.at_level(logging.WARNING):
        os.kill(busy[0].process.pid, signal.SIGKILL)
        with pytest.raises(WorkerCrashedError):
            await victim
    assert "died while running a query" in caplog.text
    for _ in range(2 * pool.size):
        assert count_of((await pool.execute(request("SELECT (COUNT(*) AS ?n) {?s ?p ?o}"))).body)


async def test_extra_workers_start_when_slow_queries_hold_them_all_and_then_retire(
    tiny_build: Path,
) -> None:
    executor = WorkerPoolExecutor(tiny_build / "current", workers=1, burst_workers=1)
    try:
        await executor.start()
        slow = asyncio.create_task(executor.execute(request(CARTESIAN, timeout=2.0)))
        await asyncio.sleep(0.5)
        started = time.monotonic()
        for _ in range(5):
            assert (
                count_of(
                    (await executor.execute(request("SELECT (COUNT(*) AS ?n) {?s ?p ?o}"))).body
                )
                == 300
            )
        assert time.monotonic() - started < 1.0  # served by the extra worker, not queued
        assert len(executor._workers) == 2
        with pytest.raises(QueryTimeoutError):
            await slow
        await executor.execute(request("ASK {}"))
        assert len(executor._workers) == 1  # the extra worker retired once one sat idle
    finally:
        await executor.close()


async def test_a_full_pool_answers_overloaded(tiny_build: Path) -> None:
    executor = WorkerPoolExecutor(
        tiny_build / "current", workers=1, burst_workers=0, queue_timeout=0.3
    )
    try:
        slow = asyncio.create_task(executor.execute(request(CARTESIAN, timeout=2.0)))
        await asyncio.sleep(0.2)
        with pytest.raises(OverloadedError) as overloaded:
            await executor.execute(request("ASK {}"))
        assert overloaded.value.retry_after > 0
        with pytest.raises(QueryTimeoutError):
            await slow
    finally:
        await executor.close()


async def test_workers_follow_a_newly_published_build(
    pool: WorkerPoolExecutor, tiny_build: Path
) -> None:
    count = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
    assert count_of((await pool.execute(request(count))).body) == 300
    publish_tiny_build(tiny_build, "tiny-2", 12)
    for _ in range(2 * pool.size):
        assert count_of((await pool.execute(request(count))).body) == 12


class _SlowOrRedirecting(http.server.BaseHTTPRequestHandler):
    paths: list[str] = []  # noqa: RUF012

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).paths.append(self.path)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/internal")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        time.sleep(5)  # /slow: a remote endpoint that never answers in time

    def log_message(self, *args: object) -> None:
        pass


async def test_federated_calls_have_a_time_limit_and_follow_no_redirect(tiny_build: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowOrRedirecting)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    policy = ServicePolicy(allow=(f"{base}/slow", f"{base}/redirect"), allow_private=True)
    executor = WorkerPoolExecutor(
        tiny_build / "current", workers=1, policy=policy, service_timeout=1.0
    )
    try:
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError) as stopped:
            await executor.execute(
                request(f"SELECT * {{ SERVICE <{base}/slow> {{ ?s ?p ?o }} }}", timeout=30)
            )
        assert stopped.value.limit == 1.0 and time.monotonic() - started < 2.0
        with pytest.raises(QueryError):
            await executor.execute(
                request(f"SELECT * {{ SERVICE <{base}/redirect> {{ ?s ?p ?o }} }}")
            )
        assert _SlowOrRedirecting.paths == ["/slow", "/redirect"]  # never /internal
    finally:
        await executor.close()
        server.shutdown()


async def test_a_client_that_goes_away_frees_its_worker_at_once(
    pool: WorkerPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    abandoned = asyncio.create_task(pool.execute(request(CARTESIAN, timeout=20.0)))
    await asyncio.sleep(0.3)
    busy = _busy_workers(pool)
    assert len(busy) == 1
    pid = busy[0].process.pid
    with caplog.at_level(logging.WARNING):
        abandoned.cancel()
        with pytest.raises(asyncio.CancelledError):
            await abandoned
    assert "its client went away" in caplog.text
    deadline = time.monotonic() + 5
    while busy[0].process.pid == pid and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert busy[0].process.pid != pid  # a fresh process took its place
    with pytest.raises(ProcessLookupError):  # and the query's process is gone, not left running
        os.kill(pid, 0)
    for _ in range(2 * pool.size):
        assert count_of((await pool.execute(request("SELECT (COUNT(*) AS ?n) {?s ?p ?o}"))).body)


async def test_answers_larger_than_one_read_arrive_whole(pool: WorkerPoolExecutor) -> None:
    # ~3 MB of JSON: several reads on the server's side of the channel, two writes on the worker's.
    query = "SELECT ?a ?b ?v { ?a ?p ?v . ?b ?q ?w } LIMIT 25000"
    answer = await pool.execute(request(query, max_rows=30_000))
    assert len(answer.body) > 2_000_000
    assert (answer.rows, answer.truncated) == (25_000, False)
    assert len(json.loads(answer.body)["results"]["bindings"]) == 25_000
    small = await pool.execute(request("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"))
    assert count_of(small.body) == 300  # the channel is in step again after the big answer


async def test_a_worker_that_died_while_idle_costs_no_query_an_error(
    pool: WorkerPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    victim = pool._workers[0]
    os.kill(victim.process.pid, signal.SIGKILL)
    await asyncio.sleep(0.3)  # the event loop sees its channel close
    with caplog.at_level(logging.WARNING):
        for _ in range(4 * pool.size):
            answer = await pool.execute(request("SELECT (COUNT(*) AS ?n) {?s ?p ?o}"))
            assert count_of(answer.body) == 300
    assert "died while idle" in caplog.text


def test_the_pool_keeps_its_limits_on_uvloop(tiny_build: Path) -> None:
    """`engagements serve` runs on uvloop, whose transports differ from asyncio's."""
    import uvloop

    async def scenario() -> tuple[float, int, int]:
        executor = WorkerPoolExecutor(tiny_build / "current", workers=1, burst_workers=0)
        try:
            await executor.start()
            started = time.monotonic()
            with pytest.raises(QueryTimeoutError):
                await executor.execute(request(CARTESIAN, timeout=1.0))
            stopped_after = time.monotonic() - started
            big = await executor.execute(
                request("SELECT ?a ?b { ?a ?p ?v . ?b ?q ?w } LIMIT 20000", max_rows=20_000)
            )
            small = await executor.execute(request("SELECT (COUNT(*) AS ?n) {?s ?p ?o}"))
            return stopped_after, big.rows, count_of(small.body)
        finally:
            await executor.close()

    stopped_after, rows, count = uvloop.run(scenario())
    assert 1.0 <= stopped_after < 2.0
    assert (rows, count) == (20_000, 300)


def _busy_workers(pool: WorkerPoolExecutor) -> list:
    """The workers running a query now (not waiting in the idle queue)."""
    return [w for w in pool._workers if pool._idle is not None and w not in pool._idle]


async def test_queries_waiting_for_a_worker_get_one_in_the_order_they_came(
    tiny_build: Path,
) -> None:
    """Waiters wake every ``burst_after`` to look for a burst; none loses its place."""
    executor = WorkerPoolExecutor(
        tiny_build / "current", workers=1, burst_workers=0, queue_timeout=10, burst_after=0.05
    )
    try:
        await executor.start()
        slow = asyncio.create_task(executor.execute(request(CARTESIAN, timeout=0.8)))
        await asyncio.sleep(0.1)
        answered: list[int] = []

        async def ask(index: int) -> None:
            await executor.execute(request("ASK {}"))
            answered.append(index)

        waiting = []
        for index in range(6):
            waiting.append(asyncio.create_task(ask(index)))
            await asyncio.sleep(0.07)  # each arrives after the last began to wait
        with pytest.raises(QueryTimeoutError):
            await slow
        await asyncio.gather(*waiting)
        assert answered == list(range(6))
    finally:
        await executor.close()
