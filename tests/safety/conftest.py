"""Fixtures of the safety tests.

- ``tiny_build``: a small published build in the real layout (a store, not the data);
- ``trap``: listening sockets on one loopback port that count connections;
- ``stand_in``: a real `oxigraph serve` on loopback with three triples;
- ``guarded`` / ``federating``: real `engagements serve` processes on the real data.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pyoxigraph
import pytest

# tests/conftest.py's LiveServer (`import conftest` may find another conftest module).
LiveServer = Any

REPO_ROOT = Path(__file__).resolve().parents[2]
OXIGRAPH = REPO_ROOT / ".venv" / "bin" / "oxigraph"
CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
LIGHT = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 3"
TIME_LIMIT = 3  # the live servers' --query-timeout: keeps stray heavy fuzz queries short


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


DATA_GRAPH = "https://w3id.org/defence-engagements/graph/data"


def publish_tiny_build(build_dir: Path, build_id: str, triples: int) -> Path:
    """Write builds/<build_id> with ``triples`` triples and switch ``current`` to it."""
    root = build_dir / "builds" / build_id
    root.mkdir(parents=True)
    store = pyoxigraph.Store(str(root / "store"))
    graph = pyoxigraph.NamedNode(DATA_GRAPH)
    store.extend(
        pyoxigraph.Quad(
            pyoxigraph.NamedNode(f"http://example.org/s{i}"),
            pyoxigraph.NamedNode("http://example.org/p"),
            pyoxigraph.Literal(f"value {i}"),
            graph,
        )
        for i in range(triples)
    )
    store.flush()
    del store
    manifest = {
        "version": build_id,
        "built_at": "2026-11-22T00:00:00Z",
        "graphs": {DATA_GRAPH: triples},
    }
    (root / "build.json").write_text(json.dumps(manifest), encoding="utf-8")
    link = build_dir / "current.new"
    link.symlink_to(Path("builds") / build_id)
    os.replace(link, build_dir / "current")
    return root


@pytest.fixture
def tiny_build(tmp_path: Path) -> Path:
    build_dir = tmp_path / "build"
    publish_tiny_build(build_dir, "tiny-1", 300)
    return build_dir


class Trap:
    """Listening sockets on one port at several loopback addresses, counting connections."""

    def __init__(self) -> None:
        self.connections: list[tuple[str, object]] = []
        self.sockets: list[socket.socket] = []
        for _ in range(20):
            self.port = free_port()
            try:
                self._listen(socket.AF_INET, "127.0.0.1")
                self._listen(socket.AF_INET, "127.0.0.2")
                break
            except OSError:
                self.close()
        else:
            raise RuntimeError("no free trap port")
        with contextlib.suppress(OSError):  # no IPv6 loopback here: the v4 traps still stand
            self._listen(socket.AF_INET6, "::1")

    def _listen(self, family: int, host: str) -> None:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, self.port))
        sock.listen(16)
        sock.settimeout(0.2)
        self.sockets.append(sock)
        threading.Thread(target=self._accept, args=(sock, host), daemon=True).start()

    def _accept(self, sock: socket.socket, host: str) -> None:
        while sock.fileno() != -1:
            try:
                connection, peer = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append((host, peer))
            connection.close()

    def spellings(self) -> list[str]:
        port = self.port
        return [
            f"http://127.0.0.1:{port}/",
            f"http://localhost:{port}/",
            f"http://[::1]:{port}/",
            f"http://127.0.0.2:{port}/",
            f"http://2130706433:{port}/",
            f"http://0x7f000001:{port}/",
            f"http://0177.0.0.1:{port}/",
            f"http://127.1:{port}/",
            f"http://[::ffff:127.0.0.1]:{port}/",
        ]

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()


@pytest.fixture(scope="package")
def root_conftest(pytestconfig: pytest.Config) -> ModuleType:
    """tests/conftest.py as a module: start_server and stop_server come from there."""
    module = pytestconfig.pluginmanager.get_plugin(str(REPO_ROOT / "tests" / "conftest.py"))
    assert isinstance(module, ModuleType)
    return module


@pytest.fixture(scope="package")
def http() -> Iterator[httpx.Client]:
    """One client for all requests: a new httpx client costs ~100 ms (TLS set-up)."""
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture(scope="package")
def trap() -> Iterator[Trap]:
    trap = Trap()
    yield trap
    trap.close()


@pytest.fixture(scope="package")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `oxigraph serve` on loopback holding three triples."""
    directory = tmp_path_factory.mktemp("stand-in")
    data = directory / "data.ttl"
    data.write_text(
        "<http://example.org/a> <http://example.org/says> 'one', 'two', 'three' .\n",
        encoding="utf-8",
    )
    subprocess.run(
        [str(OXIGRAPH), "load", "--location", str(directory / "store"), "--file", str(data)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    process = subprocess.Popen(
        [
            str(OXIGRAPH),
            "serve",
            "--location",
            str(directory / "store"),
            "--bind",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}/query"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(endpoint, params={"query": "ASK {}"}, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield endpoint
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="package")
def guarded(
    published_build: Path,
    trap: Trap,
    tmp_path_factory: pytest.TempPathFactory,
    root_conftest: ModuleType,
) -> Iterator[LiveServer]:
    allow = [arg for iri in trap.spellings() for arg in ("--service-allow", iri)]
    log = tmp_path_factory.mktemp("guarded") / "server.log"
    server = root_conftest.start_server(
        published_build, "--query-timeout", str(TIME_LIMIT), *allow, log=log
    )
    yield server
    root_conftest.stop_server(server)


@pytest.fixture(scope="package")
def federating(
    published_build: Path,
    stand_in: str,
    tmp_path_factory: pytest.TempPathFactory,
    root_conftest: ModuleType,
) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("federating") / "server.log"
    server = root_conftest.start_server(
        published_build,
        "--query-timeout",
        str(TIME_LIMIT),
        "--max-rows",
        "50",
        "--service-allow",
        stand_in,
        "--service-allow-private",
        log=log,
    )
    yield server
    root_conftest.stop_server(server)
