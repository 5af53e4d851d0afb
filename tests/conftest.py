"""Shared fixtures: real builds, real server processes on loopback.

- ``repo_root``: this checkout.
- ``build_dir``: a session-wide build directory outside the checkout.
- ``published_build``: `engagements build` of the real data, once per session.
- ``live_server``: a real `engagements serve` process on a free loopback port.
- ``wikidata_offline`` (autouse): Wikidata's endpoint setting points at a closed loopback
  port, so a test that forgets ``--endpoint`` fails here instead of going out.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(
    *args: str, env: dict[str, str] | None = None, check: bool = False, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run `engagements …` as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "defence_engagements", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def wait_for_http(url: str, process: subprocess.Popen[bytes], deadline: float = 60) -> None:
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer {url} within {deadline} s")


class LiveServer:
    def __init__(self, process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.log = log

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


def start_server(
    build_dir: Path, *extra_args: str, log: Path, env: dict[str, str] | None = None
) -> LiveServer:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/"
    handle = log.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "defence_engagements",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *extra_args,
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "ENGAGEMENTS_BUILD_DIR": str(build_dir), **(env or {})},
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    wait_for_http(base_url + "sparql?query=ASK%7B%7D", process)
    return LiveServer(process, base_url, log)


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


WIKIDATA_ENDPOINT_VARIABLE = "ENGAGEMENTS_WIKIDATA_ENDPOINT"  # settings.wikidata_endpoint


@pytest.fixture(scope="session", autouse=True)
def wikidata_offline() -> Iterator[str]:
    """No test reaches Wikidata: its endpoint is a loopback port that refuses connections.

    The port stays bound (never listening) for the whole session, so no server started by
    a test can take it. Set in ``os.environ``, which every CLI subprocess inherits; a test
    that needs an endpoint passes its stand-in's with ``--endpoint``.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}/sparql"
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(WIKIDATA_ENDPOINT_VARIABLE, endpoint)
            yield endpoint


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build")


@pytest.fixture(scope="session")
def published_build(build_dir: Path) -> Path:
    """The real data, built once per session; returns the build directory."""
    result = run_cli("build", env={"ENGAGEMENTS_BUILD_DIR": str(build_dir)})
    assert result.returncode == 0, result.stdout + result.stderr
    return build_dir


@pytest.fixture(scope="session")
def live_server(
    published_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    server = start_server(published_build, log=log)
    yield server
    stop_server(server)
