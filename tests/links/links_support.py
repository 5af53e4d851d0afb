"""Helpers for the link tests: a stand-in for Wikidata's query service (a real
`oxigraph serve` on loopback) and the settings a `links` run uses."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "wikidata"
OXIGRAPH = REPO_ROOT / ".venv" / "bin" / "oxigraph"


@dataclass
class StandIn:
    process: subprocess.Popen[bytes]
    base_url: str

    @property
    def sparql(self) -> str:
        return self.base_url + "query"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_engagements(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`engagements …` in a subprocess, exactly as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "defence_engagements", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def invoke(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`engagements …` through its real entry point, in this process (no start-up cost).

    The environment is the only configuration channel, as in a subprocess.
    """
    from defence_engagements.cli import main

    saved = {name: os.environ.get(name) for name in env}
    stdout, stderr = io.StringIO(), io.StringIO()
    code = 0
    try:
        os.environ.update(env)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                main(list(args))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (1 if exit_.code else 0)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return subprocess.CompletedProcess(list(args), code, stdout.getvalue(), stderr.getvalue())


def oxigraph_binary() -> str:
    found = str(OXIGRAPH) if OXIGRAPH.exists() else shutil.which("oxigraph")
    assert found, "the oxigraph binary (PyPI package `oxigraph`) is not installed"
    return found


def start_stand_in(location: Path, fixture: Path = FIXTURES / "wikidata.ttl") -> StandIn:
    binary = oxigraph_binary()
    subprocess.run(
        [binary, "load", "--location", str(location), "--file", str(fixture)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    process = subprocess.Popen(
        [binary, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stand_in = StandIn(process, f"http://127.0.0.1:{port}/")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"oxigraph serve exited with {process.returncode}")
        try:
            if httpx.get(stand_in.sparql, params={"query": "ASK {}"}, timeout=2).is_success:
                return stand_in
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    stand_in.stop()
    raise RuntimeError("oxigraph serve did not answer within 30 s")


def links_env(data_dir: Path, build_dir: Path, **extra: str) -> dict[str, str]:
    """Settings for a `links` run over fixture data, fast to give up on failures."""
    return {
        "ENGAGEMENTS_DATA_DIR": str(data_dir),
        "ENGAGEMENTS_BUILD_DIR": str(build_dir),
        "ENGAGEMENTS_WIKIDATA_RETRIES": "1",
        "ENGAGEMENTS_WIKIDATA_BACKOFF": "0.05",
        **extra,
    }
