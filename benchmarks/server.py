"""Server suite: our endpoint against `oxigraph serve-read-only` and rdflib-endpoint, with wrk.

``python -m benchmarks server [--engagements 10000] [--duration 10] [--runs 3]
[--servers ours,ours-nomemo,oxigraph,rdflib] [--workloads light,repeated,heavy,page]
[--connections 1,8,32] [--reuse-build] [--baseline-src DIR]``

Every server gets the same quads: ours serves a build of the generated tree;
oxigraph serves that build's store directory read-only with
``--union-default-graph``; rdflib-endpoint serves the N-Quads dump; "baseline" is
our server from another source tree (``--baseline-src``). All servers run at once
and take turns for each case, the order rotated each run, so a change in the
machine's load hits them alike. For each workload and concurrency (1, 8, 32
connections, wrk with two threads on loopback) it records requests/s and the
p50/p99 latency:

- light: ``SELECT ?p ?o WHERE { <engagement> ?p ?o }`` with the engagement
  drawn at random from *every* engagement of the tree (a Lua script; 10,000
  distinct queries at the default size), so no cache can answer: our answer memo
  holds 512 entries, so at most ~5% of light requests can be memo hits;
- repeated: one light query, the same every time (caching allowed);
- heavy: a GROUP BY over every engagement;
- page: the HTML page of one engagement (ours only: the others have none).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

from benchmarks import trees
from benchmarks.measure import REPO_ROOT, median, write_results
from defence_engagements.dump_files import DumpFile

VENV_BIN = Path(sys.executable).parent
DEX = "https://w3id.org/defence-engagements/def#"
HEAVY = (
    f"PREFIX dex: <{DEX}> SELECT ?type (COUNT(?e) AS ?n) WHERE {{ ?e a dex:Engagement ; "
    "dex:engagementType ?type } GROUP BY ?type ORDER BY DESC(?n)"
)
CONCURRENCY = (1, 8, 32)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def light_query(iri: str) -> str:
    return f"SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}"


def lua_script(paths: list[str], accept: str) -> str:
    entries = ",\n".join(json.dumps(p) for p in paths)
    return (
        f"local paths = {{\n{entries}\n}}\n"
        "math.randomseed(os.time())\n"
        "request = function()\n"
        "  local path = paths[math.random(#paths)]\n"
        f'  return wrk.format("GET", path, {{["Accept"] = "{accept}"}})\n'
        "end\n"
    )


def wrk(
    url_base: str, paths: list[str], accept: str, connections: int, duration: int
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_script(paths, accept))
    completed = subprocess.run(
        [
            "wrk",
            "-t",
            str(min(2, connections)),
            "-c",
            str(connections),
            "-d",
            f"{duration}s",
            "--latency",
            "--timeout",
            "30s",
            "-s",
            script.name,
            url_base,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(script.name)
    return parse_wrk(completed.stdout)


def parse_wrk(output: str) -> dict[str, Any]:
    def millis(text: str) -> float:
        number, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = millis(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = millis(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


class Server:
    def __init__(
        self,
        name: str,
        command: list[str],
        url: str,
        sparql_path: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name, self.url, self.sparql_path = name, url, sparql_path
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - open for the server's lifetime
            "wb", suffix=f"-{name}.log", delete=False
        )
        self.process = subprocess.Popen(
            command,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    def wait(self, probe: str, deadline: float = 900) -> None:
        start = time.monotonic()
        while time.monotonic() - start < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log.name}")
            try:
                if httpx.get(self.url + probe, timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{self.name} did not come up; see {self.log.name}")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


def sparql_paths(server: Server, queries: list[str]) -> list[str]:
    return [f"{server.sparql_path}?query={urllib.parse.quote(q)}" for q in queries]


def workloads_of(
    server: Server, engagements: list[str], page_paths: list[str] | None
) -> dict[str, tuple[list[str], str]]:
    light = sparql_paths(server, [light_query(e) for e in engagements])
    workloads: dict[str, tuple[list[str], str]] = {
        "light": (light, "application/sparql-results+json"),
        "repeated": (light[:1], "application/sparql-results+json"),
        "heavy": (sparql_paths(server, [HEAVY]), "application/sparql-results+json"),
    }
    if page_paths:
        workloads["page"] = (page_paths, "text/html")
    return workloads


def measure_all(
    servers: list[tuple[Server, list[str] | None]],
    engagements: list[str],
    duration: int,
    runs: int = 3,
    only: tuple[str, ...] = ("light", "repeated", "heavy", "page"),
    concurrency: tuple[int, ...] = CONCURRENCY,
) -> dict[str, dict[str, Any]]:
    """Every case on every server, the servers taking turns (all of them running, the
    order rotated each run): a machine whose load changes during the suite changes it
    for every server alike, not for whichever happened to be measured then."""
    results: dict[str, dict[str, Any]] = {server.name: {} for server, _ in servers}
    cases = {server.name: workloads_of(server, engagements, pages) for server, pages in servers}
    for name in only:
        ready = []
        for server, _ in servers:
            if name not in cases[server.name]:
                continue
            paths, accept = cases[server.name][name]
            check = httpx.get(server.url + paths[0], headers={"Accept": accept}, timeout=60)
            if check.status_code != 200:
                results[server.name][name] = {"error": f"HTTP {check.status_code}"}
                continue
            ready.append(server)
        for connections in concurrency:
            samples: dict[str, list[dict[str, Any]]] = {server.name: [] for server in ready}
            for run in range(runs):
                turn = run % len(ready) if ready else 0
                for server in ready[turn:] + ready[:turn]:
                    paths, accept = cases[server.name][name]
                    samples[server.name].append(
                        wrk(server.url, paths, accept, connections, duration)
                    )
            for server in ready:
                taken = samples[server.name]
                results[server.name][f"{name}@{connections}"] = {
                    **{key: median([t[key] for t in taken]) for key in ("rps", "p50_ms", "p99_ms")},
                    "non_2xx": sum(t["non_2xx"] for t in taken),
                    "runs": runs,
                }
                print(
                    server.name,
                    name,
                    connections,
                    results[server.name][f"{name}@{connections}"],
                    flush=True,
                )
    return results


def build_tree(tree: Path, build_dir: Path) -> Path:
    env = {
        **os.environ,
        "ENGAGEMENTS_REPO_ROOT": str(tree),
        "ENGAGEMENTS_BUILD_DIR": str(build_dir),
    }
    subprocess.run(
        [str(VENV_BIN / "engagements"), "--quiet", "build"], cwd=tree, env=env, check=True
    )
    return (build_dir / "current").resolve()


def engagement_iris(store_dir: Path) -> list[str]:
    """Every engagement of the build: the light mix draws from all of them."""
    import pyoxigraph as ox

    store = ox.Store.read_only(str(store_dir))
    rows = store.query(f"SELECT DISTINCT ?e WHERE {{ GRAPH ?g {{ ?e a <{DEX}Engagement> }} }}")
    return sorted(row["e"].value for row in rows)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks server", description=__doc__)
    parser.add_argument("--engagements", type=int, default=10000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per case (medians)")
    parser.add_argument("--servers", default="ours,ours-nomemo,oxigraph,rdflib")
    parser.add_argument("--workloads", default="light,repeated,heavy,page")
    parser.add_argument(
        "--connections", default=",".join(map(str, CONCURRENCY)), help="wrk connection counts"
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="a checkout (e.g. `git archive HEAD src | tar -x -C DIR`) whose server the "
        "servers baseline and baseline-nomemo run, beside ours in the same run",
    )
    parser.add_argument(
        "--reuse-build",
        action="store_true",
        help="serve the tree's published build as it is, without running the build first",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run benchmarks/setup.sh")
    tree = trees.tree(args.engagements)
    build_dir = trees.WORK / "builds" / f"n{args.engagements}"
    if args.reuse_build and (build_dir / "current").exists():
        build = (build_dir / "current").resolve()
    else:
        build = build_tree(tree, build_dir)
    iris = engagement_iris(build / "store")
    if len(iris) < args.engagements:
        raise SystemExit(
            f"only {len(iris)} engagements in the build: the light mix draws from all "
            f"{args.engagements}"
        )
    workloads = tuple(args.workloads.split(","))
    concurrency = tuple(int(c) for c in args.connections.split(","))
    results: dict[str, Any] = {"engagements": args.engagements, "distinct_light_queries": len(iris)}
    started: list[tuple[Server, list[str] | None]] = []
    try:
        for name in args.servers.split(","):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            pages = None
            if name in ("ours", "ours-nomemo", "baseline", "baseline-nomemo"):
                # …-nomemo: the answer memo off, so the light mix and the GROUP BY run
                # every time, as on the peers (which cache nothing). baseline: the same
                # server from another source tree (--baseline-src), e.g. the last commit.
                memo = {"ENGAGEMENTS_ANSWER_MEMO_ENTRY_BYTES": "0"} if "nomemo" in name else {}
                source: dict[str, str] = {}
                if name.startswith("baseline"):
                    if args.baseline_src is None:
                        raise SystemExit(f"{name} needs --baseline-src")
                    source = {"PYTHONPATH": str(args.baseline_src.resolve() / "src")}
                server = Server(
                    name,
                    [
                        sys.executable,
                        "-m",
                        "defence_engagements",
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                    ],
                    url,
                    "/sparql",
                    env={
                        "ENGAGEMENTS_REPO_ROOT": str(tree),
                        "ENGAGEMENTS_BUILD_DIR": str(build.parent.parent),
                        **memo,
                        **source,
                    },
                )
                base = "https://w3id.org/defence-engagements"
                pages = [iri.removeprefix(base).replace("/id/", "/doc/", 1) for iri in iris]
            elif name == "oxigraph":
                server = Server(
                    name,
                    [
                        str(VENV_BIN / "oxigraph"),
                        "serve-read-only",
                        "--location",
                        str(build / "store"),
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--union-default-graph",
                    ],
                    url,
                    "/query",
                )
            else:
                dump = build / "dumps" / "engagements.nq.gz"
                plain = trees.WORK / f"n{args.engagements}.nq"
                if not plain.exists():
                    plain.write_bytes(gzip.decompress(DumpFile.of(dump).read_bytes()))
                server = Server(
                    name,
                    [
                        str(VENV_BIN / "rdflib-endpoint"),
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        str(plain),
                    ],
                    url,
                    "/",
                )
            started.append((server, pages))
            server.wait(sparql_paths(server, ["ASK {}"])[0])
        results.update(measure_all(started, iris, args.duration, args.runs, workloads, concurrency))
    finally:
        for server, _ in started:
            server.stop()
    write_results("server", results)  # the measurements first, whatever follows
    ratios: dict[str, float] = {}
    for key, ours in {
        **{f"nomemo {k}": v for k, v in results.get("ours-nomemo", {}).items()},
        **results.get("ours", {}),
    }.items():
        for other in ("oxigraph", "rdflib"):
            theirs = results.get(other, {}).get(key.removeprefix("nomemo "))
            if (
                isinstance(ours, dict)
                and isinstance(theirs, dict)
                and ours.get("rps")
                and theirs.get("rps")
            ):
                ratios[f"{key} ours/{other} rps"] = ours["rps"] / theirs["rps"]
                ratios[f"{key} ours/{other} p50"] = ours["p50_ms"] / theirs["p50_ms"]
    results["ratios"] = ratios
    path = write_results("server", results)
    print(json.dumps(ratios, indent=2))
    print(f"results: {path}")
