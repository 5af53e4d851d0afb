"""The SPARQL client's manners: User-Agent, 429 Retry-After, retries, no foreign redirects."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from defence_engagements.links.wikidata_client import (
    RetryPolicy,
    WikidataClient,
    WikidataUnavailableError,
    parse_retry_after,
)

from .links_support import StandIn

ASK_JAPAN = (
    "SELECT ?label WHERE { <http://www.wikidata.org/entity/Q17> ?p ?label "
    'FILTER(?label = "Japan"@en) }'
)


class Recorder:
    """A tiny loopback server: scripted answers first, then the stand-in's own."""

    def __init__(self, upstream: str, script: list[tuple[int, dict[str, str]]]) -> None:
        self.upstream = upstream
        self.script = list(script)
        self.requests: list[tuple[float, str]] = []  # (time, User-Agent)
        self.bodies: list[bytes] = []


@contextmanager
def recorder_server(recorder: Recorder) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            recorder.requests.append((time.monotonic(), self.headers.get("User-Agent", "")))
            recorder.bodies.append(body)
            if recorder.script:
                status, headers = recorder.script.pop(0)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            upstream = httpx.post(
                recorder.upstream,
                content=body,
                headers={
                    "Content-Type": self.headers["Content-Type"],
                    "Accept": self.headers["Accept"],
                },
            )
            self.send_response(upstream.status_code)
            self.send_header("Content-Type", upstream.headers["Content-Type"])
            self.send_header("Content-Length", str(len(upstream.content)))
            self.end_headers()
            self.wfile.write(upstream.content)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sparql"
    finally:
        server.shutdown()
        server.server_close()


def test_429_retry_after_is_honoured(wikidata_stand_in: StandIn) -> None:
    recorder = Recorder(wikidata_stand_in.sparql, [(429, {"Retry-After": "1"})])
    with (
        recorder_server(recorder) as url,
        WikidataClient(
            url, user_agent="defence-engagements-test/1 (tests)", retry=RetryPolicy(2, 0.01)
        ) as client,
    ):
        rows = client.select(ASK_JAPAN)
    assert [row["label"].value for row in rows] == ["Japan"]
    (first, agent), (second, _) = recorder.requests
    assert second - first >= 0.95, "the retry came before Retry-After allowed it"
    assert agent == "defence-engagements-test/1 (tests)"


def test_5xx_is_retried_with_backoff_then_given_up() -> None:
    recorder = Recorder("http://127.0.0.1:9/unused", [(503, {})] * 3)
    with (
        recorder_server(recorder) as url,
        WikidataClient(url, user_agent="t", retry=RetryPolicy(2, 0.1)) as client,
        pytest.raises(WikidataUnavailableError, match="after 3 attempts"),
    ):
        client.select(ASK_JAPAN)
    times = [t for t, _ in recorder.requests]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.09 and times[2] - times[1] >= 0.19  # doubled


def test_too_long_retry_after_gives_up_at_once() -> None:
    recorder = Recorder("http://127.0.0.1:9/unused", [(429, {"Retry-After": "3600"})])
    with (
        recorder_server(recorder) as url,
        WikidataClient(url, user_agent="t", retry=RetryPolicy(3, 0.01, max_wait=60)) as client,
        pytest.raises(WikidataUnavailableError, match="wait 3600 s"),
    ):
        client.select(ASK_JAPAN)
    assert len(recorder.requests) == 1


def test_redirects_stay_on_the_endpoints_origin(wikidata_stand_in: StandIn) -> None:
    moved = Recorder(wikidata_stand_in.sparql, [(307, {"Location": "/moved/sparql"})])
    with recorder_server(moved) as url, WikidataClient(url, user_agent="t") as client:
        assert [row["label"].value for row in client.select(ASK_JAPAN)] == ["Japan"]
    assert len(moved.requests) == 2  # the redirect was followed on the same origin

    elsewhere = Recorder(wikidata_stand_in.sparql, [])
    with recorder_server(elsewhere) as target:
        for foreign in (target, target.replace("127.0.0.1", "localhost")):
            away = Recorder("http://127.0.0.1:9/unused", [(307, {"Location": foreign})])
            with (
                recorder_server(away) as url,
                WikidataClient(url, user_agent="t") as client,
                pytest.raises(WikidataUnavailableError, match="off its origin"),
            ):
                client.select(ASK_JAPAN)
    assert elsewhere.requests == []  # nothing followed a redirect off the endpoint


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
