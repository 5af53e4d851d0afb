"""The safety layer on a real `engagements serve` process serving the real data.

Servers and the trap socket are fixtures in this package's conftest: ``guarded``
allow-lists every loopback trap spelling but not private targets, so the address
check must refuse them; ``federating`` allow-lists a stand-in `oxigraph serve` on
loopback with private targets allowed. The trap must record no connection.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx

from .conftest import CARTESIAN, LIGHT, TIME_LIMIT, LiveServer, Trap

_client = httpx.Client(timeout=30)


def sparql(server: LiveServer, query: str, **params: str) -> httpx.Response:
    return _client.get(server.url("sparql"), params={"query": query, **params})


def test_a_cartesian_product_is_stopped_at_its_time_limit_and_light_queries_go_on(
    federating: LiveServer,
) -> None:
    started = time.monotonic()
    answer = sparql(federating, CARTESIAN, timeout="2")
    took = time.monotonic() - started
    assert answer.status_code == 503, answer.text
    assert took < 3.0
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == 503
    assert problem["limit_seconds"] == 2
    assert 2 <= problem["elapsed_seconds"] < 3
    started = time.monotonic()
    light = sparql(federating, LIGHT)
    assert light.status_code == 200
    assert len(light.json()["results"]["bindings"]) == 3
    assert time.monotonic() - started < 1.0


def test_the_time_limit_answer_is_readable_as_text_and_capped_by_the_server(
    federating: LiveServer,
) -> None:
    started = time.monotonic()
    answer = _client.get(
        federating.url("sparql"),
        params={"query": CARTESIAN, "timeout": "999"},
        headers={"Accept": "text/plain"},
        timeout=30,
    )
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("text/plain")
    assert f"{TIME_LIMIT} s" in answer.text  # 999 was capped by the server's maximum
    assert time.monotonic() - started < TIME_LIMIT + 1.5


def test_ssrf_spellings_of_loopback_are_refused_and_never_contacted(
    guarded: LiveServer, federating: LiveServer, trap: Trap
) -> None:
    for server, why in ((guarded, "address"), (federating, "allow-list")):
        for iri in trap.spellings():
            for form in (f"SERVICE <{iri}>", f"SERVICE SILENT <{iri}>"):
                answer = sparql(server, f"SELECT * WHERE {{ {form} {{ ?s ?p ?o }} }}")
                assert answer.status_code == 403, (iri, answer.text)
                assert iri in answer.text, answer.text
                assert "Traceback" not in answer.text
                if why == "allow-list":
                    assert "allow-list" in answer.text
    escaped = f"SELECT * WHERE {{ \\u0053ERVICE <http://127.0.0.1:{trap.port}/> {{ ?s ?p ?o }} }}"
    assert sparql(guarded, escaped).status_code in (400, 403)
    variable = f"SELECT * WHERE {{ BIND(<http://127.0.0.1:{trap.port}/> AS ?e) SERVICE ?e {{}} }}"
    assert sparql(guarded, variable).status_code == 403
    time.sleep(0.5)
    assert trap.connections == []


def test_a_federated_query_reaches_an_allowed_stand_in(
    federating: LiveServer, stand_in: str
) -> None:
    query = (
        f"SELECT ?said WHERE {{ SERVICE <{stand_in}> "
        "{ <http://example.org/a> <http://example.org/says> ?said } } ORDER BY ?said"
    )
    answer = sparql(federating, query)
    assert answer.status_code == 200, answer.text
    said = [row["said"]["value"] for row in answer.json()["results"]["bindings"]]
    assert said == ["one", "three", "two"]


def test_a_truncated_result_says_so(federating: LiveServer) -> None:
    answer = sparql(federating, "SELECT * WHERE { ?s ?p ?o }")
    assert answer.status_code == 200
    assert answer.headers["x-result-truncated"] == "true"
    assert "50" in answer.headers.get("warning", "")
    assert len(answer.json()["results"]["bindings"]) == 50
    complete = sparql(federating, LIGHT)
    assert complete.headers.get("x-result-truncated", "false") == "false"


def test_a_10_mb_body_gets_413(federating: LiveServer) -> None:
    body = b"SELECT * WHERE { ?s ?p ?o } #" + b"x" * 10_000_000
    answer = _client.post(
        federating.url("sparql"),
        content=body,
        headers={"Content-Type": "application/sparql-query"},
        timeout=30,
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_health_and_version(federating: LiveServer, published_build: Path) -> None:
    manifest = json.loads((published_build / "current" / "build.json").read_text())
    health = _client.get(federating.url("health"), timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    version = _client.get(federating.url("version"), timeout=10).json()
    assert version["version"] == manifest["version"]
    assert version["built_at"] == manifest["built_at"]
    assert version["triples"] == sum(manifest["graphs"].values()) > 0
    count = sparql(federating, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert int(count.json()["results"]["bindings"][0]["n"]["value"]) == version["triples"]


def test_access_log_lines_are_json_with_the_fields(federating: LiveServer) -> None:
    marker = "SELECT ?marker WHERE { ?marker ?p ?o } LIMIT 1"
    assert sparql(federating, marker).status_code == 200
    time.sleep(0.3)
    records = []
    for line in federating.log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))  # every JSON-looking line must parse
    requests = [r for r in records if "method" in r]
    assert requests
    for record in requests:
        assert {"time", "method", "path", "status", "bytes", "duration_ms", "query_sha256"} <= set(
            record
        )
    assert any(r["path"] == "/sparql" and r["status"] == 200 for r in requests)


def test_oversized_request_heads_are_refused_without_being_buffered(
    federating: LiveServer,
) -> None:
    port = int(federating.base_url.rstrip("/").rsplit(":", 1)[1])
    answers = []
    for size in (20_000, 200_000, 20_000_000):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * size + b"\r\n\r\n"
            try:
                sock.sendall(head)
                answers.append(sock.recv(100).split(b"\r\n")[0])
            except ConnectionError:
                answers.append(b"reset")  # the server stopped reading: nothing was buffered
    assert answers[0] == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert answers[1] in (b"HTTP/1.1 400 Bad Request", b"reset")
    assert answers[2] in (b"HTTP/1.1 400 Bad Request", b"reset")
