"""The front cache (web/front_cache.py): a replayed answer is the answer it replays.

Most tests ask a real server process over the real build, comparing raw bytes (the
body as sent, before httpx would decompress it; every header but Date). The last
ones drive the middleware alone, with a stand-in app that counts its calls, to show
what is and is not replayed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from defence_engagements.web.front_cache import FrontCache, FrontCacheMiddleware

from .conftest import W3C_PROTOCOL
from .tiny_build import publish_graphs_build

JSON_RESULTS = "application/sparql-results+json"
TSV = "text/tab-separated-values"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # as sent, in order, without Date
    body: bytes  # as sent (compressed if it was)

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key.lower() == name), None)


def fetch(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
) -> Answer:
    with client.stream(method, url, params=params, headers=headers, data=data) as response:
        body = b"".join(response.iter_raw())
    kept = tuple((k, v) for k, v in response.headers.raw if k.lower() != b"date")
    return Answer(response.status_code, kept, body)


@pytest.fixture
def plain_client():  # type: ignore[no-untyped-def]
    """A client that sends only the Accept and Accept-Encoding each request names."""
    with httpx.Client(timeout=30) as client:
        del client.headers["accept"]
        del client.headers["accept-encoding"]
        yield client


def fresh_query(limit: int = 40) -> str:
    """A query no earlier request asked (its first answer is the memo's miss)."""
    return f"SELECT ?s ?p ?o WHERE {{ ?s ?p ?o }} LIMIT {limit} # {uuid.uuid4()}"


def test_a_replayed_answer_is_byte_for_byte_the_answer_it_replays(site, plain_client):  # type: ignore[no-untyped-def]
    params = {"query": fresh_query()}
    asked = {"Accept": JSON_RESULTS}
    answers = [fetch(plain_client, "GET", site.url("sparql"), params=params, headers=asked)]
    answers += [
        fetch(plain_client, "GET", site.url("sparql"), params=params, headers=asked)
        for _ in range(5)
    ]
    first, memo_hit, *replays = answers
    assert first.status == 200 and first.header(b"x-cache") == b"miss"
    assert memo_hit.header(b"x-cache") == b"hit"
    assert first.header(b"etag") is not None
    # The first answer is kept only once the memo answers (X-Cache says which did).
    without_x_cache = [
        tuple((k, v) for k, v in a.headers if k.lower() != b"x-cache") for a in answers
    ]
    assert len(set(without_x_cache)) == 1
    assert {a.body for a in answers} == {first.body}
    assert all(replay == memo_hit for replay in replays)


def test_accept_accept_encoding_and_origin_are_never_mixed_up(site, plain_client):  # type: ignore[no-untyped-def]
    params = {"query": fresh_query(limit=60)}
    variants: list[dict[str, str]] = []
    for accept in (JSON_RESULTS, "application/sparql-results+xml", "text/csv", TSV):
        for encoding in (None, "gzip"):
            for origin in (None, "https://example.org"):
                headers = {"Accept": accept}
                if encoding:
                    headers["Accept-Encoding"] = encoding
                if origin:
                    headers["Origin"] = origin
                variants.append(headers)
    url = site.url("sparql")
    for headers in variants:
        fetch(plain_client, "GET", url, params=params, headers=headers)  # the memo's miss
    kept = [fetch(plain_client, "GET", url, params=params, headers=h) for h in variants]
    assert len({answer for answer in kept}) == len(variants)  # each its own answer
    for answer, headers in zip(kept, variants, strict=True):
        assert answer.status == 200
        gzipped = answer.header(b"content-encoding") == b"gzip"
        assert gzipped == ("Accept-Encoding" in headers)
        exposed = answer.header(b"access-control-expose-headers") is not None
        assert exposed == ("Origin" in headers)
        media_type = answer.header(b"content-type") or b""
        assert media_type.startswith(headers["Accept"].encode())
    for _ in range(3):  # round after round, interleaved: each gets its own again
        for answer, headers in zip(kept, variants, strict=True):
            assert fetch(plain_client, "GET", url, params=params, headers=headers) == answer


def test_documents_at_different_urls_are_never_mixed_up(site, plain_client):  # type: ignore[no-untyped-def]
    """Build-bound documents besides query answers: kept from their first answer."""
    paths = ["def", ".well-known/void", "sparql", "dumps/", "def.nt"]
    asked = {"Accept": "text/turtle"}
    first = {path: fetch(plain_client, "GET", site.url(path), headers=asked) for path in paths}
    for answer in first.values():
        assert answer.status == 200 and answer.header(b"etag") is not None
    assert len(set(first.values())) == len(paths)
    for _ in range(3):
        for path in paths:
            assert fetch(plain_client, "GET", site.url(path), headers=asked) == first[path]


def test_head_conditional_requests_and_post_are_answered_as_before(site, plain_client):  # type: ignore[no-untyped-def]
    query = fresh_query()
    params = {"query": query}
    url = site.url("sparql")
    asked = {"Accept": JSON_RESULTS}
    fetch(plain_client, "GET", url, params=params, headers=asked)
    kept = fetch(plain_client, "GET", url, params=params, headers=asked)
    etag = kept.header(b"etag")
    assert etag is not None

    heads = [fetch(plain_client, "HEAD", url, params=params, headers=asked) for _ in range(3)]
    for head in heads:
        assert head.status == 200 and head.body == b""
        assert head.headers == kept.headers  # Content-Length too: that of the GET
    assert fetch(plain_client, "GET", url, params=params, headers=asked) == kept

    for _ in range(2):
        unchanged = fetch(
            plain_client,
            "GET",
            url,
            params=params,
            headers={**asked, "If-None-Match": etag.decode()},
        )
        assert unchanged.status == 304 and unchanged.body == b""
        assert unchanged.header(b"etag") == etag
        changed = fetch(
            plain_client, "GET", url, params=params, headers={**asked, "If-None-Match": 'W/"other"'}
        )
        assert changed.status == 200 and changed.body == kept.body

    posted = fetch(plain_client, "POST", url, headers=asked, data={"query": query})
    assert posted.status == 200 and posted.body == kept.body
    assert posted.header(b"etag") == etag
    assert fetch(plain_client, "GET", url, params=params, headers=asked) == kept


def test_an_answer_without_an_etag_is_never_replayed(site, plain_client):  # type: ignore[no-untyped-def]
    params = {"query": "SELECT (STRUUID() AS ?u) WHERE {}"}
    answers = [
        fetch(
            plain_client, "GET", site.url("sparql"), params=params, headers={"Accept": JSON_RESULTS}
        )
        for _ in range(4)
    ]
    for answer in answers:
        assert answer.status == 200
        assert answer.header(b"etag") is None
        assert answer.header(b"cache-control") == b"no-store"
    assert len({answer.body for answer in answers}) == len(answers)  # run every time


def test_every_replay_writes_its_access_log_line(site, plain_client):  # type: ignore[no-untyped-def]
    query = fresh_query()
    for _ in range(5):
        fetch(plain_client, "GET", site.url("sparql"), params={"query": query})
    digest = hashlib.sha256(query.encode()).hexdigest()[:16]
    deadline = time.monotonic() + 5
    while True:
        lines = [
            json.loads(line)
            for line in site.log.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.startswith("{") and digest in line
        ]
        if len(lines) >= 5 or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # lines are gathered for up to 50 ms before they are written
    assert len(lines) == 5
    assert {(r["method"], r["path"], r["status"], r["query_sha256"]) for r in lines} == {
        ("GET", "/sparql", 200, digest)
    }
    assert len({r["bytes"] for r in lines}) == 1 and lines[0]["bytes"] > 0


COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def _count(client: httpx.Client, server, method: str = "GET") -> tuple[int | None, Answer]:  # type: ignore[no-untyped-def]
    answer = fetch(
        client,
        method,
        server.url("sparql"),
        params={"query": COUNT},
        headers={"Accept": JSON_RESULTS},
    )
    assert answer.status == 200
    if method == "HEAD":
        return None, answer
    return int(json.loads(answer.body)["results"]["bindings"][0]["n"]["value"]), answer


def test_a_new_build_is_not_answered_from_the_old_builds_replays(
    tmp_path, root_helpers, plain_client
):  # type: ignore[no-untyped-def]
    graph = "http://example.org/graph"
    publish_graphs_build(tmp_path, {graph: [W3C_PROTOCOL / "data1.nt"]}, build_id="b1")
    server = root_helpers.start_server(tmp_path, log=tmp_path / "server.log")
    try:
        old = [_count(plain_client, server) for _ in range(4)]  # miss, memo hit, replays
        _, old_head = _count(plain_client, server, "HEAD")
        _count(plain_client, server, "HEAD")
        old_count = old[0][0]
        publish_graphs_build(
            tmp_path,
            {graph: [W3C_PROTOCOL / "data1.nt", W3C_PROTOCOL / "data2.nt"]},
            build_id="b2",
        )
        new = [_count(plain_client, server) for _ in range(4)]
        assert {n for n, _ in new} == {new[0][0]} and new[0][0] > old_count
        assert new[0][1].header(b"etag") != old[0][1].header(b"etag")
        _, new_head = _count(plain_client, server, "HEAD")
        assert new_head.header(b"etag") == new[0][1].header(b"etag") != old_head.header(b"etag")

        # Rolled back: the first build's answers again, never the second's.
        link = tmp_path / "current.new"
        link.symlink_to(Path("builds") / "b1")
        os.replace(link, tmp_path / "current")
        again = [_count(plain_client, server) for _ in range(3)]
        assert {n for n, _ in again} == {old_count}
        assert again[-1][1] == old[-1][1]
    finally:
        root_helpers.stop_server(server)


def test_an_archived_text_edited_in_place_is_served_as_it_now_is(
    tmp_path, root_helpers, plain_client
):  # type: ignore[no-untyped-def]
    """Archived texts are read from data/, not from the build: their strong ETags are
    content hashes, and such answers are never kept."""
    texts = tmp_path / "data" / "sources" / "text"
    texts.mkdir(parents=True)
    (texts / "note.txt").write_text("first words\n", encoding="utf-8")
    publish_graphs_build(tmp_path, {"http://example.org/g": [W3C_PROTOCOL / "data1.nt"]})
    server = root_helpers.start_server(
        tmp_path, log=tmp_path / "server.log", env={"ENGAGEMENTS_DATA_DIR": str(tmp_path / "data")}
    )
    try:
        before = [fetch(plain_client, "GET", server.url("archive/note.txt")) for _ in range(3)]
        assert {answer.body for answer in before} == {b"first words\n"}
        (texts / "note.txt").write_text("second thoughts\n", encoding="utf-8")
        after = fetch(plain_client, "GET", server.url("archive/note.txt"))
        assert after.body == b"second thoughts\n"
        assert after.header(b"etag") != before[0].header(b"etag")
    finally:
        root_helpers.stop_server(server)


# The middleware alone: which answers are kept, and that a kept one never reaches the app.


class StandIn:
    """An app answering every request with one configurable response, counting calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.status = 200
        self.headers: list[tuple[bytes, bytes]] = [
            (b"etag", b'W/"abc"'),
            (b"cache-control", b"public, max-age=60, must-revalidate"),
            (b"vary", b"Accept, Accept-Encoding, Origin"),
        ]
        self.bodies = [b"the answer"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        for index, body in enumerate(self.bodies):
            more = index < len(self.bodies) - 1
            await send({"type": "http.response.body", "body": body, "more_body": more})


def _ask(
    app: FrontCacheMiddleware,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    query_string: bytes = b"query=x",
    path: str = "/sparql",
) -> list[Message]:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string,
        "headers": headers or [(b"accept", b"application/json")],
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return sent


def _sent(messages: list[Message]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and the whole body, as the server would send them."""
    start, *bodies = messages
    assert start["type"] == "http.response.start"
    assert all(body["type"] == "http.response.body" for body in bodies)
    return start["status"], list(start["headers"]), b"".join(b.get("body", b"") for b in bodies)


def _front(stand_in: StandIn, versions: list[str] | None = None) -> FrontCacheMiddleware:
    asked = iter(versions) if versions else None
    cache = FrontCache(
        build_version=(lambda: next(asked)) if asked else (lambda: "v1"),  # type: ignore[arg-type]
        max_entries=8,
        entry_bytes=100,
        max_header_bytes=1000,
    )
    return FrontCacheMiddleware(stand_in, cache=cache)


def test_a_kept_answer_is_sent_without_asking_the_app() -> None:
    stand_in = StandIn()
    front = _front(stand_in)
    first = _sent(_ask(front))
    assert [_sent(_ask(front)) for _ in range(3)] == [first] * 3
    assert stand_in.calls == 1
    _ask(front, headers=[(b"accept", b"text/csv")])
    _ask(front, headers=[(b"accept", b"application/json"), (b"accept-encoding", b"gzip")])
    _ask(front, headers=[(b"accept", b"application/json"), (b"origin", b"https://a.example")])
    _ask(front, "HEAD")
    _ask(front, query_string=b"query=y")
    _ask(front, path="/elsewhere")
    assert stand_in.calls == 7  # each a key of its own


@pytest.mark.parametrize(
    "change",
    [
        "no etag",
        "strong etag",
        "no-store",
        "no-cache",
        "private",
        "not public",
        "set-cookie",
        "vary cookie",
        "memo miss",
        "status 404",
        "too big",
        "streamed",
    ],
)
def test_answers_that_are_not_a_function_of_the_key_are_never_kept(change: str) -> None:
    stand_in = StandIn()
    headers = dict(stand_in.headers)
    if change == "no etag":
        del headers[b"etag"]
    elif change == "strong etag":
        headers[b"etag"] = b'"abc"'
    elif change in ("no-store", "no-cache", "private"):
        headers[b"cache-control"] = b"public, " + change.encode()
    elif change == "not public":
        headers[b"cache-control"] = b"max-age=60"
    elif change == "set-cookie":
        headers[b"set-cookie"] = b"a=b"
    elif change == "vary cookie":
        headers[b"vary"] = b"Accept, Cookie"
    elif change == "memo miss":
        headers[b"x-cache"] = b"miss"
    elif change == "status 404":
        stand_in.status = 404
    elif change == "too big":
        stand_in.bodies = [b"x" * 101]
    elif change == "streamed":
        stand_in.bodies = [b"the ", b"answer"]
    stand_in.headers = list(headers.items())
    front = _front(stand_in)
    answers = [_sent(_ask(front)) for _ in range(3)]
    assert stand_in.calls == 3
    assert answers[0] == answers[1] == answers[2]


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("POST", []),
        ("GET", [(b"if-none-match", b'W/"abc"')]),
        ("GET", [(b"if-modified-since", b"Tue, 01 Dec 2026 00:00:00 GMT")]),
        ("GET", [(b"range", b"bytes=0-1")]),
        ("GET", [(b"content-type", b"application/sparql-query")]),
        ("GET", [(b"content-length", b"0")]),
        ("GET", [(b"x-filler", b"a" * 1000)]),  # the limits middleware's 431
    ],
)
def test_requests_the_app_must_judge_are_passed_to_it(
    method: str, extra: list[tuple[bytes, bytes]]
) -> None:
    stand_in = StandIn()
    front = _front(stand_in)
    plain = [(b"accept", b"application/json")]
    _ask(front, headers=plain)
    _ask(front, method, headers=plain + extra)
    _ask(front, method, headers=plain + extra)
    assert stand_in.calls == 3


def test_an_answer_made_while_the_build_changed_is_not_kept() -> None:
    stand_in = StandIn()
    # Looked up under v1; by the time the answer is complete, v2 is published.
    front = _front(stand_in, ["v1", "v2", "v2", "v2", "v2"])
    _ask(front)
    _ask(front)  # v2 from the start: kept now
    _ask(front)
    assert stand_in.calls == 2
