"""Load under attack: light queries keep flowing while pathological ones are killed.

Starts a real `engagements serve` on a free loopback port (its own build directory,
built once if missing), then runs three fixed-length phases:

0. (baseline) the light query mix alone;
1. ``--clients`` concurrent clients send a light query mix for ``--duration`` s while
   one pathological query (a cartesian product, ``timeout=2``) arrives every second;
2. the same, while `engagements build --force` publishes a new build underneath.

Reports per phase: light requests, failures (anything but 200), req/s, p50/p99
latency, how the pathological queries were answered, and whether the served build
changed. Loopback only; stops by itself. Not part of `make test`.

    .venv/bin/python benchmarks/load_safety.py [--duration 30] [--clients 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]

LIGHT_QUERIES = (
    "ASK { ?s ?p ?o }",
    "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 10",
    "SELECT ?type (COUNT(?s) AS ?n) WHERE { GRAPH <https://w3id.org/defence-engagements/graph/data>"
    " { ?s a ?type } } GROUP BY ?type",
    "SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label } LIMIT 25",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 20",
)
PATHOLOGICAL = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


@dataclass
class PhaseResult:
    name: str
    duration: float
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    pathological: Counter[str] = field(default_factory=Counter)
    version_before: str = ""
    version_after: str = ""
    note: str = ""

    def row(self) -> str:
        ordered = sorted(self.latencies)
        total = len(ordered) + sum(self.failures.values())

        def pct(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0

        failed = sum(self.failures.values())
        failures = ", ".join(f"{k}×{v}" for k, v in self.failures.items()) or "0"
        patho = ", ".join(f"{k}×{v}" for k, v in sorted(self.pathological.items()))
        median = statistics.median(ordered) * 1000 if ordered else 0
        return (
            f"| {self.name} | {total} | {failed} ({failures}) | {total / self.duration:.0f} | "
            f"{median:.1f} | {pct(0.99):.1f} | {patho} | {self.version_before} → "
            f"{self.version_after}{self.note} |"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "defence_engagements", *args]


class RawClient:
    """A bare HTTP/1.1 keep-alive client: httpx costs more CPU per request than the server."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        request = f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and "close" in value.lower():
                close = True
        await self.reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def light_client(base: tuple[str, int], until: float, index: int, result: PhaseResult):
    client = RawClient(*base)
    turn = index
    while time.monotonic() < until:
        query = LIGHT_QUERIES[turn % len(LIGHT_QUERIES)]
        turn += 1
        started = time.monotonic()
        try:
            status = await client.get("/sparql?" + urlencode({"query": query}))
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result.failures[type(exc).__name__] += 1
            client.close()
            continue
        if status == 200:
            result.latencies.append(time.monotonic() - started)
        else:
            result.failures[str(status)] += 1
    client.close()


async def attacker(http: httpx.AsyncClient, until: float, result: PhaseResult) -> None:
    pending: set[asyncio.Task[None]] = set()

    async def one() -> None:
        try:
            answer = await http.get("/sparql", params={"query": PATHOLOGICAL, "timeout": "2"})
            result.pathological[str(answer.status_code)] += 1
        except httpx.HTTPError as exc:
            result.pathological[type(exc).__name__] += 1

    while time.monotonic() < until:
        task = asyncio.create_task(one())
        pending.add(task)
        task.add_done_callback(pending.discard)
        await asyncio.sleep(1.0)
    if pending:
        await asyncio.gather(*pending)


async def served_version(http: httpx.AsyncClient) -> str:
    try:
        return str((await http.get("/version")).json().get("build_id", "?"))
    except (httpx.HTTPError, ValueError):
        return "?"


async def run_phase(
    base_url: str,
    name: str,
    clients: int,
    duration: float,
    during: subprocess.Popen[bytes] | None = None,
    attack: bool = True,
) -> PhaseResult:
    result = PhaseResult(name, duration)
    limits = httpx.Limits(max_connections=clients + 8, max_keepalive_connections=clients + 8)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        result.version_before = await served_version(http)
        until = time.monotonic() + duration
        address = urlsplit(base_url)
        target = (address.hostname or "127.0.0.1", address.port or 80)
        attackers = [attacker(http, until, result)] if attack else []
        await asyncio.gather(
            *attackers,
            *(light_client(target, until, i, result) for i in range(clients)),
        )
        if during is not None:
            code = during.wait(timeout=600)
            result.note = f" (build exit {code})"
        result.version_after = await served_version(http)
    return result


def wait_ready(base_url: str, server: subprocess.Popen[bytes], deadline: float = 90) -> None:
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(base_url + "health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become healthy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="query worker processes")
    parser.add_argument(
        "--build-dir",
        type=Path,
        default=None,
        help="a build directory to serve (default: a fresh temporary one)",
    )
    args = parser.parse_args()

    build_dir = args.build_dir or Path(tempfile.mkdtemp(prefix="load-safety-"))
    env = {**os.environ, "ENGAGEMENTS_BUILD_DIR": str(build_dir), "ENGAGEMENTS_ACCESS_LOG": "false"}
    if not (build_dir / "current").exists():
        print(f"building into {build_dir} …", flush=True)
        subprocess.run(cli("build"), cwd=REPO_ROOT, env=env, check=True)

    port = free_port()
    base_url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(
        cli("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(base_url, server)
        results = [
            asyncio.run(
                run_phase(
                    base_url, "light only (baseline)", args.clients, args.duration, attack=False
                )
            ),
            asyncio.run(
                run_phase(base_url, "light + 1 pathological/s", args.clients, args.duration)
            ),
        ]
        build = subprocess.Popen(
            cli("build", "--force"),
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        results.append(
            asyncio.run(
                run_phase(
                    base_url,
                    "same + `engagements build --force`",
                    args.clients,
                    args.duration,
                    during=build,
                )
            )
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()

    print(
        f"\n{args.clients} clients, {args.duration:g} s per phase, {args.workers} query "
        f"workers, {os.cpu_count()} cores, loopback\n"
    )
    print(
        "| phase | light requests | failed | req/s | p50 ms | p99 ms "
        "| pathological answers | served build |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for result in results:
        print(result.row())


if __name__ == "__main__":
    main()
