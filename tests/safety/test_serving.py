"""`engagements serve` as processes: several server processes on one port, and the HTTP
parsers' cap on request heads. Real servers on loopback over a tiny build."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from .conftest import CARTESIAN, LiveServer, publish_tiny_build

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _server_processes(server: LiveServer) -> list[int]:
    """The server processes uvicorn's supervisor started (spawned interpreters)."""
    return [
        pid
        for pid in _children(server.process.pid)
        if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    ]


@pytest.fixture
def two_processes(tmp_path: Path, root_conftest: ModuleType) -> Iterator[tuple[LiveServer, Path]]:
    build_dir = tmp_path / "build"
    publish_tiny_build(build_dir, "tiny-1", 300)
    server = root_conftest.start_server(
        build_dir, "--processes", "2", "--workers", "2", log=tmp_path / "server.log"
    )
    yield server, build_dir
    root_conftest.stop_server(server)


def test_several_server_processes_answer_each_with_its_own_workers(
    two_processes: tuple[LiveServer, Path],
) -> None:
    server, _ = two_processes
    assert len(_server_processes(server)) == 2
    # Each process remembers answers in its own memo, so a query asked on fresh
    # connections is run once per process that answers it: two misses, then hits.
    query = "SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s LIMIT 3"
    misses = 0
    for _ in range(200):
        with httpx.Client(timeout=30) as client:  # a new connection each time
            answer = client.get(server.url("sparql"), params={"query": query})
        assert answer.status_code == 200
        misses += answer.headers["x-cache"] == "miss"
        if misses == 2:
            break
    assert misses == 2
    with httpx.Client(timeout=30) as client:
        assert client.get(server.url("health")).status_code == 200


def test_with_several_processes_a_query_is_still_stopped_at_its_limit(
    two_processes: tuple[LiveServer, Path],
) -> None:
    server, _ = two_processes
    with httpx.Client(timeout=30) as client:
        for _ in range(2):  # whichever process answers
            started = time.monotonic()
            answer = client.get(server.url("sparql"), params={"query": CARTESIAN, "timeout": "1"})
            assert answer.status_code == 503
            assert answer.json()["limit_seconds"] == 1
            assert time.monotonic() - started < 2.5
            light = client.get(server.url("sparql"), params={"query": COUNT})
            assert light.status_code == 200


def test_a_server_process_that_dies_is_replaced_and_leaves_no_worker_behind(
    two_processes: tuple[LiveServer, Path],
) -> None:
    server, _ = two_processes
    victim = _server_processes(server)[0]
    its_workers = _descendants(victim)
    assert its_workers  # a fork server and at least one query worker
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    with httpx.Client(timeout=30) as client:
        while time.monotonic() < deadline:
            assert client.get(server.url("sparql"), params={"query": COUNT}).status_code == 200
            replaced = [pid for pid in _server_processes(server) if pid != victim]
            if len(replaced) == 2 and not any(_alive(pid) for pid in its_workers):
                break
            time.sleep(0.2)
    assert len([pid for pid in _server_processes(server) if pid != victim]) == 2
    assert not [pid for pid in its_workers if _alive(pid)]


def _first_line(port: int, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head)
            return sock.recv(100).split(b"\r\n")[0]
        except ConnectionError:
            return b"reset"  # the server stopped reading: nothing was buffered


def _responses(sock: socket.socket, count: int) -> list[bytes]:
    """The status lines of ``count`` responses with Content-Length bodies."""
    data = b""
    statuses = []
    while len(statuses) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {statuses}"
            data += chunk
            continue
        head = data[:head_end].split(b"\r\n")
        lengths = [line for line in head if line.lower().startswith(b"content-length:")]
        length = int(lengths[0].split(b":", 1)[1])
        while len(data) < head_end + 4 + length:
            data += sock.recv(65536)
        statuses.append(head[0])
        data = data[head_end + 4 + length :]
    return statuses


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_request_heads_are_capped_and_requests_keep_flowing_with_either_parser(
    parser: str, tmp_path: Path, root_conftest: ModuleType
) -> None:
    build_dir = tmp_path / "build"
    publish_tiny_build(build_dir, "tiny-1", 30)
    server = root_conftest.start_server(
        build_dir,
        "--processes",
        "1",
        log=tmp_path / "server.log",
        env={"ENGAGEMENTS_HTTP_PARSER": parser},
    )
    try:
        port = int(server.base_url.rstrip("/").rsplit(":", 1)[1])
        filler = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: "
        assert _first_line(port, filler + b"a" * 20_000 + b"\r\n\r\n") == (
            b"HTTP/1.1 431 Request Header Fields Too Large"
        )
        for size in (200_000, 20_000_000):  # beyond 4 × max_header_bytes: cut off by the parser
            line = _first_line(port, filler + b"a" * size + b"\r\n\r\n")
            assert line in (b"HTTP/1.1 400 Bad Request", b"reset")
        # A head sent a few bytes at a time is counted across reads as well.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(filler)
            refused = False
            for _ in range(200):
                try:
                    sock.sendall(b"b" * 1000)
                    time.sleep(0.002)
                except ConnectionError:
                    refused = True
                    break
            if not refused:
                sock.settimeout(5)
                try:
                    refused = sock.recv(100).startswith(b"HTTP/1.1 400")
                except ConnectionError:
                    refused = True
            assert refused
        # Keep-alive and pipelined requests: every answer, whole and in order.
        request = b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\n\r\n"
        missing = b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            for _ in range(3):
                sock.sendall(request)
                assert _responses(sock, 1) == [b"HTTP/1.1 200 OK"]
            sock.sendall(request + missing + request)
            assert _responses(sock, 3) == [
                b"HTTP/1.1 200 OK",
                b"HTTP/1.1 404 Not Found",
                b"HTTP/1.1 200 OK",
            ]
    finally:
        root_conftest.stop_server(server)
