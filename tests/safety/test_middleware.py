"""Request limits, the access log and the last-resort handler, on a small ASGI app."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from defence_engagements.web.access_log import (
    FLUSH_AFTER,
    AccessLogMiddleware,
    GatheringStreamHandler,
)
from defence_engagements.web.limits import RequestLimitsMiddleware
from defence_engagements.web.problem import LastResortMiddleware

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def echo(request: Request) -> PlainTextResponse:
    body = await request.body()
    return PlainTextResponse(f"{len(body)} bytes", headers={"X-Result-Truncated": "true"})


def make_app(**limits: object) -> object:
    starlette_app = Starlette(routes=[Route("/echo", echo, methods=["GET", "POST"])])

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("path") == "/boom":
            raise RuntimeError("secret internal detail")
        await starlette_app(scope, receive, send)

    limited = RequestLimitsMiddleware(inner, **limits)  # type: ignore[arg-type]
    return AccessLogMiddleware(LastResortMiddleware(limited))


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")  # type: ignore[arg-type]


async def test_bodies_over_the_limit_get_413_declared_or_streamed() -> None:
    async with client(make_app(max_body_bytes=1000)) as http:
        assert (await http.post("/echo", content=b"x" * 1000)).text == "1000 bytes"
        declared = await http.post("/echo", content=b"x" * 1001)
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"
        assert "1000" in declared.json()["detail"]

        async def chunks():  # no Content-Length: counted while it arrives
            for _ in range(5):
                yield b"y" * 400

        streamed = await http.post("/echo", content=chunks())
        assert streamed.status_code == 413


async def test_long_urls_get_414_and_big_headers_431() -> None:
    async with client(make_app(max_query_length=100, max_header_bytes=2000)) as http:
        assert (await http.get("/echo", params={"query": "a" * 100})).status_code == 200
        too_long = await http.get(
            "/echo", params={"query": "a" * 101}, headers={"Accept": "text/plain"}
        )
        assert too_long.status_code == 414
        assert too_long.headers["content-type"].startswith("text/plain")
        assert "POST" in too_long.text
        big = await http.get("/echo", headers={"X-Filler": "z" * 2500})
        assert big.status_code == 431
        assert (
            await http.post("/echo", content=b"", headers={"Content-Length": "x1"})
        ).status_code == 400


async def test_a_body_that_trickles_in_gets_408() -> None:
    app = make_app(body_read_timeout=0.3)
    sent: list[Message] = []
    messages = [{"type": "http.request", "body": b"a", "more_body": True}]

    async def receive() -> Message:
        if messages:
            return messages.pop()
        await asyncio.sleep(5)  # the client stalls
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/echo",
        "raw_path": b"/echo",
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("test", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    started = asyncio.get_running_loop().time()
    await app(scope, receive, send)  # type: ignore[operator]
    assert asyncio.get_running_loop().time() - started < 2
    assert sent[0]["status"] == 408


async def test_no_traceback_ever_reaches_a_client(caplog: pytest.LogCaptureFixture) -> None:
    async with client(make_app()) as http:
        with caplog.at_level(logging.ERROR):
            for accept in ("application/json", "text/html", "text/plain", "*/*", "image/png"):
                answer = await http.get("/boom", headers={"Accept": accept})
                assert answer.status_code == 500
                assert "Traceback" not in answer.text and "secret" not in answer.text
                assert "unexpected error" in answer.text
        assert "secret internal detail" in caplog.text  # the operator still sees it
        html = await http.get("/boom", headers={"Accept": "text/html"})
        assert html.headers["content-type"].startswith("text/html")


async def test_access_log_lines_are_json_with_every_field(caplog: pytest.LogCaptureFixture) -> None:
    query = "SELECT * { ?s ?p ?o }"
    async with client(make_app()) as http:
        with caplog.at_level(logging.INFO, logger="defence_engagements.access"):
            await http.get("/echo", params={"query": query})
            await http.post(
                "/echo", content=query, headers={"Content-Type": "application/sparql-query"}
            )
            await http.post("/echo", data={"query": query})
            await http.get("/boom")
    records = [
        json.loads(r.getMessage()) for r in caplog.records if r.name == "defence_engagements.access"
    ]
    assert len(records) == 4
    digest = hashlib.sha256(query.encode()).hexdigest()[:16]
    for record in records:
        assert {"time", "method", "path", "status", "bytes", "duration_ms", "query_sha256"} <= set(
            record
        )
        assert record["duration_ms"] >= 0
    assert [r["query_sha256"] for r in records[:3]] == [digest] * 3
    assert records[0]["status"] == 200 and records[0]["bytes"] == len("0 bytes")
    assert records[0]["truncated"] is True
    assert records[3]["status"] == 500 and records[3]["query_sha256"] is None


async def test_access_lines_written_on_the_event_loop_are_gathered_then_all_written() -> None:
    stream = io.StringIO()
    handler = GatheringStreamHandler(stream)
    logger = logging.getLogger("test.gathered")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for index in range(5):
            logger.info(json.dumps({"n": index}))
        assert stream.getvalue() == ""  # nothing written yet: one write for all five
        await asyncio.sleep(FLUSH_AFTER * 3)
        assert [json.loads(line)["n"] for line in stream.getvalue().splitlines()] == list(range(5))
        logger.info(json.dumps({"n": 5}))
        handler.close()  # at shutdown: what is still gathered is written
        assert stream.getvalue().splitlines()[-1] == '{"n": 5}'
    finally:
        logger.removeHandler(handler)


def test_access_lines_written_off_the_event_loop_are_written_at_once() -> None:
    stream = io.StringIO()
    handler = GatheringStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.handle(logging.makeLogRecord({"msg": "line", "levelno": logging.INFO}))
    assert stream.getvalue() == "line\n"
