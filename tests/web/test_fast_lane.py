"""The fast lane (web/fast_lane.py) sends what the app would send, and only where it may.

Two real uvicorn servers with our HTTP protocol run in this process on loopback ports,
over the real build, with the same settings but one: the lane on or off. Every
request is asked of both, in the same order, three times (the memo's miss, its hit,
the front cache's replay), and the answers must be the same bytes but for Date; so
must the access-log lines but for time and duration. The lane's own answers are
counted, to show which requests it took and which it left to the app.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from defence_engagements.query.bounded import BoundedFirstExecutor
from defence_engagements.query.inprocess import InProcessExecutor
from defence_engagements.settings import load_settings
from defence_engagements.web.access_log import log as access_log
from defence_engagements.web.app import create_app
from defence_engagements.web.fast_lane import FastLane
from defence_engagements.web.http_protocol import LANE_UNSENT_LIMIT

from .test_front_cache import Answer, fetch

ENGAGEMENT = "https://w3id.org/defence-engagements/id/engagement/2009-10-gates-visit-to-japan"
JSON_RESULTS = "application/sparql-results+json"
PUBLIC_BASE = "https://engagements.example/"
MAX_ROWS = 20  # the engagement's description has more rows: its answer is cut


class CountingLane(FastLane):
    """Records each answer it sends: ``computed`` (the endpoint's answer, made here) or
    ``replayed`` (a front-cache entry)."""

    def __init__(self, lane: FastLane) -> None:
        super().__init__(lane.context, lane.front_cache, lane.logger)
        self.answered: list[tuple[str, bytes, bytes]] = []
        self._computed = False

    def respond(self, raw_path, query_string, headers, default_headers, status_lines):  # type: ignore[no-untyped-def]
        self._computed = False
        response = super().respond(raw_path, query_string, headers, default_headers, status_lines)
        if response is not None:
            kind = "computed" if self._computed else "replayed"
            self.answered.append((kind, raw_path, query_string))
        return response

    def _sparql_answer(self, raw_path, query_string, headers):  # type: ignore[no-untyped-def]
        answer = super()._sparql_answer(raw_path, query_string, headers)
        self._computed = answer is not None
        return answer


@dataclass
class InProcessServer:
    url: str
    lane: CountingLane | None
    server: uvicorn.Server
    thread: threading.Thread


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(build_dir: Path, *, fast_lane: bool) -> InProcessServer:
    port = _free_port()
    settings = load_settings(
        build_dir=build_dir,
        port=port,
        public_base_url=PUBLIC_BASE,  # pages name it: the same for both servers
        max_rows=MAX_ROWS,
        fast_lane=fast_lane,
        access_log=True,
    )
    executor = BoundedFirstExecutor(
        InProcessExecutor(settings.current_build),
        settings.current_build,
        rows=settings.bounded_query_rows,
        max_query_length=settings.max_query_length,
    )
    app = create_app(settings, executor)
    lane = None
    if fast_lane:
        lane = CountingLane(app.state.fast_lane)
        app.state.fast_lane = lane
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="defence_engagements.web.http_protocol:BoundedHttpToolsProtocol",
        server_header=False,
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    return InProcessServer(f"http://127.0.0.1:{port}/", lane, server, thread)


@pytest.fixture(scope="module")
def servers(published_build: Path) -> Iterator[tuple[InProcessServer, InProcessServer]]:
    with_lane = _serve(published_build, fast_lane=True)
    without = _serve(published_build, fast_lane=False)
    yield with_lane, without
    for running in (with_lane, without):
        running.server.should_exit = True
        running.thread.join(timeout=15)


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(record.getMessage())
        del line["time"], line["duration_ms"]
        self.lines.append(line)


def _ask_all(
    server: InProcessServer, requests: list[tuple[str, dict[str, str], dict[str, str]]]
) -> tuple[list[Answer], list[dict[str, object]]]:
    lines = Lines()
    access_log.addHandler(lines)
    try:
        with httpx.Client(timeout=30) as client:
            del client.headers["accept"]
            del client.headers["accept-encoding"]
            answers = [
                fetch(client, "GET", server.url + path, params=params, headers=headers)
                for path, params, headers in requests
                for _ in range(3)
            ]
    finally:
        access_log.removeHandler(lines)
    return answers, lines.lines


def _describe(subject: str) -> str:
    return f"SELECT ?p ?o WHERE {{ <{subject}> ?p ?o }}"


TAKEN = [  # bounded queries without Origin or gzip: the lane's
    ("sparql", {"query": _describe(ENGAGEMENT)}, {"Accept": JSON_RESULTS}),  # cut at MAX_ROWS
    ("sparql", {"query": _describe(ENGAGEMENT)}, {"Accept": "text/csv"}),
    ("sparql", {"query": _describe(ENGAGEMENT), "format": "xml"}, {}),
    (
        "sparql",
        {"query": f"SELECT ?type WHERE {{ <{ENGAGEMENT}> a ?type }}"},  # small: no Vary
        {"Accept": "application/sparql-results+xml"},
    ),
    ("sparql", {"query": f"CONSTRUCT WHERE {{ <{ENGAGEMENT}> ?p ?o }}"}, {"Accept": "text/turtle"}),
    ("sparql", {"query": _describe(ENGAGEMENT + "-nothing")}, {"Accept": JSON_RESULTS}),
    ("sparql", {"query": f"ASK {{ <{ENGAGEMENT}> ?p ?o }}"}, {"Accept": JSON_RESULTS}),
]
LEFT = [  # the app's: what the lane must not answer, and what it cannot
    (
        "sparql",
        {"query": _describe(ENGAGEMENT)},
        {"Accept": JSON_RESULTS, "Origin": "https://a.example"},
    ),
    ("sparql", {"query": _describe(ENGAGEMENT)}, {"Accept": "text/csv", "Accept-Encoding": "gzip"}),
    ("sparql", {"query": _describe(ENGAGEMENT)}, {"Accept": "text/html"}),
    ("sparql", {"query": _describe(ENGAGEMENT)}, {"Accept": "image/png"}),
    ("sparql", {"query": _describe(ENGAGEMENT), "timeout": "0.5"}, {"Accept": JSON_RESULTS}),
    ("sparql", {"query": "SELECT ?s WHERE { ?s ?p ?o } LIMIT 3"}, {"Accept": JSON_RESULTS}),
    ("sparql", {"query": "SELECT ?p WHERE { <x:y> ?p "}, {"Accept": JSON_RESULTS}),
    ("sparql", {"query": _describe(ENGAGEMENT), "update": "CLEAR ALL"}, {"Accept": JSON_RESULTS}),
    ("sparql", {"query": _describe(ENGAGEMENT)}, {"Accept": JSON_RESULTS, "If-None-Match": "*"}),
    ("sparql", {}, {"Accept": "text/turtle"}),
    ("nothing-here", {"query": _describe(ENGAGEMENT)}, {"Accept": JSON_RESULTS}),
]
REPLAYED = [  # not a query, but a build-bound document: the lane replays it once kept
    ("def", {}, {"Accept": "text/turtle"}),
]


def test_the_lane_sends_what_the_app_sends(servers) -> None:  # type: ignore[no-untyped-def]
    with_lane, without = servers
    requests = TAKEN + LEFT + REPLAYED
    assert with_lane.lane is not None
    answers, lines = _ask_all(with_lane, requests)
    expected, expected_lines = _ask_all(without, requests)
    for index, (answer, wanted) in enumerate(zip(answers, expected, strict=True)):
        assert answer == wanted, requests[index // 3]
    assert lines == expected_lines
    assert len(lines) == 3 * len(requests)
    # What the comparison covered: cut answers, large ones (gzip's Vary), misses and hits.
    cut = answers[0]
    assert cut.header(b"x-result-truncated") == b"true"
    assert cut.header(b"vary") == b"Accept, Accept-Encoding, Origin"
    assert [a.header(b"x-cache") for a in answers[:3]] == [b"miss", b"hit", b"hit"]
    assert answers[3 * 3].header(b"vary") == b"Accept, Origin"
    assert {a.status for a in answers[3 * len(TAKEN) :]} >= {304, 400, 404, 406}


def test_the_lane_answers_bounded_queries_and_replays_what_the_app_kept(servers) -> None:  # type: ignore[no-untyped-def]
    with_lane, _ = servers
    lane = with_lane.lane
    assert lane is not None

    def who_answered(path: str, params: dict[str, str], headers: dict[str, str]) -> list[str]:
        """Who answered each of three asks: the lane ("computed", "replayed") or "app"."""
        answered_by = []
        with httpx.Client(timeout=30) as client:
            del client.headers["accept"]
            del client.headers["accept-encoding"]
            for _ in range(3):
                before = len(lane.answered)
                fetch(client, "GET", with_lane.url + path, params=params, headers=headers)
                answered_by.append(lane.answered[-1][0] if len(lane.answered) > before else "app")
        return answered_by

    def fresh(params: dict[str, str], index: int) -> dict[str, str]:
        """The same request with a query no earlier ask used: nothing kept for it yet."""
        if "query" in params:
            return {**params, "query": f"{params['query']} # {index}"}
        return {**params, "unread": str(index)}  # a parameter the endpoint ignores

    for index, (path, params, headers) in enumerate(TAKEN):
        # The miss and the memo's hit are made here; the third ask is a replay.
        assert who_answered(path, fresh(params, index), headers) == [
            "computed",
            "computed",
            "replayed",
        ]
    for index, (path, params, headers) in enumerate(LEFT, start=len(TAKEN)):
        first, *later = who_answered(path, fresh(params, index), headers)
        assert first == "app", (path, params, headers)
        # Later asks: what the app answered may come back from the memo or a replay.
        assert set(later) <= {"app", "computed", "replayed"}
    assert who_answered("def", {"unread": "def"}, {"Accept": "text/turtle"}) == [
        "app",
        "replayed",
        "replayed",
    ]
    # CORS and gzip are the app's to shape; what it shaped is replayed once kept.
    for path, params, headers in LEFT[:2]:
        assert who_answered(path, fresh(params, 99), headers) == ["app", "app", "replayed"]


def _raw(url: str, payload: bytes, responses: int) -> list[bytes]:
    """Send ``payload`` in one write and read ``responses`` complete answers (Date dropped)."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(payload)
        received = b""
        answers: list[bytes] = []
        while len(answers) < responses:
            chunk = connection.recv(65536)
            assert chunk, "the server closed the connection"
            received += chunk
            while b"\r\n\r\n" in received:
                head, _, rest = received.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                if len(rest) < length:
                    break
                kept_head = b"\r\n".join(
                    line for line in head.split(b"\r\n") if not line.startswith(b"date:")
                )
                answers.append(kept_head + b"\r\n\r\n" + rest[:length])
                received = rest[length:]
    return answers


def _get(params: dict[str, str]) -> bytes:
    target = "/sparql?" + str(httpx.QueryParams(params))
    return f"GET {target} HTTP/1.1\r\nHost: t\r\nAccept: {JSON_RESULTS}\r\n\r\n".encode("ascii")


def test_pipelined_requests_are_answered_in_order(servers) -> None:  # type: ignore[no-untyped-def]
    """A request for the app, then one for the lane, then another for the app, in one
    write: the lane must wait its turn behind the app's answer."""
    with_lane, without = servers
    payload = b"".join(
        [
            _get({"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}),
            _get({"query": _describe(ENGAGEMENT)}),
            _get({"query": "SELECT ?s WHERE { ?s a ?t } LIMIT 2"}),
            _get({"query": f"ASK {{ <{ENGAGEMENT}> ?p ?o }}"}),
        ]
    )
    for _ in range(2):  # the second time, the memo and the front cache answer too
        assert _raw(with_lane.url, payload, 4) == _raw(without.url, payload, 4)


def test_a_client_pipelining_without_reading_is_answered_in_order(servers) -> None:  # type: ignore[no-untyped-def]
    """Hundreds of requests in one write, far more answer than the lane lets wait
    unsent: past that the app answers them one at a time, and nothing is reordered."""
    with_lane, without = servers
    lane = with_lane.lane
    assert lane is not None
    queries = [  # all the lane's to answer, as JSON results
        _describe(ENGAGEMENT),
        f"ASK {{ <{ENGAGEMENT}> ?p ?o }}",
        f"SELECT ?type WHERE {{ <{ENGAGEMENT}> a ?type }}",
    ]
    payload = b"".join(
        _get({"query": f"{queries[index % 3]} # flood {index}"}) for index in range(300)
    )
    before = len(lane.answered)
    answers = _raw(with_lane.url, payload, 300)
    assert answers == _raw(without.url, payload, 300)
    assert sum(len(answer) for answer in answers) > 2 * LANE_UNSENT_LIMIT
    assert 0 < len(lane.answered) - before < 300  # some by the lane, the rest by the app
