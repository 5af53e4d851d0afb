"""Helpers for the distribution tests: a real `oxigraph serve` process on loopback,
and small builds laid out as docs/ARCHITECTURE.md says, made without the pipeline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyoxigraph

from defence_engagements.namespaces import (
    GRAPH_DATA,
    GRAPH_INFERRED,
    GRAPH_LINKS,
    GRAPH_METADATA,
    GRAPH_ONTOLOGY,
    ID,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
OXIGRAPH = REPO_ROOT / ".venv" / "bin" / "oxigraph"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OxigraphServer:
    """`oxigraph serve` on a free loopback port; can be killed and started again."""

    def __init__(self, location: Path, log: Path) -> None:
        self.location = location
        self.log = log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_url(self) -> str:
        return self.base_url + "/store"

    @property
    def query_url(self) -> str:
        return self.base_url + "/query"

    def start(self) -> None:
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [
                    str(OXIGRAPH),
                    "serve",
                    "--location",
                    str(self.location),
                    "--bind",
                    f"127.0.0.1:{self.port}",
                ],
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"oxigraph exited: {self.log.read_text()[-2000:]}")
            try:
                httpx.get(self.query_url, params={"query": "ASK {}"}, timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("oxigraph did not start within 30 s")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def count(self, graph_iri: str) -> int:
        response = httpx.post(
            self.query_url,
            data={"query": f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph_iri}> {{ ?s ?p ?o }} }}"},
            headers={"Accept": "application/sparql-results+json"},
            timeout=30,
        )
        response.raise_for_status()
        return int(response.json()["results"]["bindings"][0]["n"]["value"])

    def dataset(self) -> pyoxigraph.Dataset:
        """Everything the store holds, canonicalised so blank-node labels do not matter."""
        response = httpx.get(self.store_url, headers={"Accept": "application/n-quads"}, timeout=60)
        response.raise_for_status()
        dataset = pyoxigraph.Dataset(
            pyoxigraph.parse(response.content, format=pyoxigraph.RdfFormat.N_QUADS)
        )
        dataset.canonicalize(pyoxigraph.CanonicalizationAlgorithm.UNSTABLE)
        return dataset


def _quads(engagements: int) -> Iterator[pyoxigraph.Quad]:
    """A synthetic dataset shaped like ours, in every contract graph (blank nodes included)."""
    dex = "https://w3id.org/defence-engagements/def#"
    rdf_type = pyoxigraph.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    label = pyoxigraph.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
    ontology = pyoxigraph.NamedNode(GRAPH_ONTOLOGY)
    data = pyoxigraph.NamedNode(GRAPH_DATA)
    inferred = pyoxigraph.NamedNode(GRAPH_INFERRED)
    links = pyoxigraph.NamedNode(GRAPH_LINKS)
    metadata = pyoxigraph.NamedNode(GRAPH_METADATA)
    engagement_class = pyoxigraph.NamedNode(dex + "Engagement")
    yield pyoxigraph.Quad(
        engagement_class,
        rdf_type,
        pyoxigraph.NamedNode("http://www.w3.org/2002/07/owl#Class"),
        ontology,
    )
    for number in range(engagements):
        subject = pyoxigraph.NamedNode(f"{ID}engagement/synthetic-{number}")
        yield pyoxigraph.Quad(subject, rdf_type, engagement_class, data)
        yield pyoxigraph.Quad(
            subject,
            label,
            pyoxigraph.Literal(
                f"Synthetic engagement {number} — “quoted” \\ and \n newline", language="en"
            ),
            data,
        )
        yield pyoxigraph.Quad(
            subject,
            pyoxigraph.NamedNode(dex + "date"),
            pyoxigraph.Literal(
                f"2026-01-{number % 28 + 1:02d}",
                datatype=pyoxigraph.NamedNode("http://www.w3.org/2001/XMLSchema#date"),
            ),
            data,
        )
        yield pyoxigraph.Quad(subject, rdf_type, pyoxigraph.NamedNode(dex + "Event"), inferred)
    yield pyoxigraph.Quad(
        pyoxigraph.NamedNode(f"{ID}country/jp"),
        pyoxigraph.NamedNode("http://www.w3.org/2002/07/owl#sameAs"),
        pyoxigraph.NamedNode("http://www.wikidata.org/entity/Q17"),
        links,
    )
    partition = pyoxigraph.BlankNode()
    dataset = pyoxigraph.NamedNode("https://w3id.org/defence-engagements/")
    yield pyoxigraph.Quad(
        dataset, pyoxigraph.NamedNode("http://rdfs.org/ns/void#classPartition"), partition, metadata
    )
    yield pyoxigraph.Quad(
        partition, pyoxigraph.NamedNode("http://rdfs.org/ns/void#class"), engagement_class, metadata
    )


def make_synthetic_build(build_dir: Path, engagements: int, version: str = "test-1") -> Path:
    """builds/<id>/{store,dumps,build.json} and `current`, laid out as the pipeline does."""
    root = build_dir / "builds" / version
    (root / "dumps").mkdir(parents=True)
    store = pyoxigraph.Store(str(root / "store"))
    store.extend(_quads(engagements))
    store.flush()
    counts: dict[str, int] = {}
    for quad in store.quads_for_pattern(None, None, None, None):
        counts[quad.graph_name.value] = counts.get(quad.graph_name.value, 0) + 1
    del store
    manifest = {
        "version": version,
        "built_at": "2026-11-22T00:00:00Z",
        "graphs": counts,
        "inputs": {},
        "timings": {},
    }
    (root / "build.json").write_text(json.dumps(manifest), encoding="utf-8")
    link = build_dir / "current"
    temporary = build_dir / "current.new"
    temporary.symlink_to(Path("builds") / version)
    os.replace(temporary, link)
    return build_dir


NGINX = Path("/usr/sbin/nginx")


def nginx_unavailable_reason() -> str | None:
    """Why the nginx tests cannot run here, after the project's installer had its go."""
    if not NGINX.exists():
        subprocess.run(
            [str(REPO_ROOT / "scripts" / "install-nginx.sh")],
            check=False,
            capture_output=True,
            timeout=600,
        )
    if not NGINX.exists():
        return "nginx is not installed and scripts/install-nginx.sh could not install it here"
    return None


class NginxServer:
    """An unprivileged nginx on a free loopback port, including a generated site config."""

    def __init__(self, site_config: str, workdir: Path) -> None:
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        (workdir / "logs").mkdir(parents=True, exist_ok=True)
        (workdir / "site.conf").write_text(site_config, encoding="utf-8")
        temp = " ".join(
            f"{kind}_temp_path {workdir / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (workdir / "nginx.conf").write_text(
            # As root, nginx would hand requests to "nobody", who cannot read pytest's
            # private temporary directories; the test's own user serves them instead.
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"daemon off;\nworker_processes 1;\npid {workdir / 'nginx.pid'};\n"
            f"error_log {workdir / 'logs' / 'error.log'};\n"
            "events { worker_connections 64; }\n"
            f"http {{\n  access_log off;\n  {temp}\n  include {workdir / 'site.conf'};\n}}\n",
            encoding="utf-8",
        )

    def start(self, port: int) -> None:
        command = [str(NGINX), "-p", str(self.workdir), "-c", str(self.workdir / "nginx.conf")]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejects the generated configuration: {check.stderr}")
        self.process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not answer within 15 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def make_source_build(build_dir: Path, version: str = "sources-1") -> Path:
    """The repository's ontology and data loaded into their graphs, not reasoned: a stand-in
    for `engagements build` while developing against real pages."""
    root = build_dir / "builds" / version
    (root / "dumps").mkdir(parents=True)
    store = pyoxigraph.Store(str(root / "store"))
    for directory, graph in (("ontology", GRAPH_ONTOLOGY), ("data", GRAPH_DATA)):
        for path in sorted((REPO_ROOT / directory).rglob("*.ttl")):
            store.load(
                path=str(path),
                format=pyoxigraph.RdfFormat.TURTLE,
                to_graph=pyoxigraph.NamedNode(graph),
            )
    store.flush()
    counts: dict[str, int] = {}
    for quad in store.quads_for_pattern(None, None, None, None):
        counts[quad.graph_name.value] = counts.get(quad.graph_name.value, 0) + 1
    del store
    manifest = {
        "version": version,
        "built_at": "2026-11-22T00:00:00Z",
        "graphs": counts,
        "inputs": {},
        "timings": {},
    }
    (root / "build.json").write_text(json.dumps(manifest), encoding="utf-8")
    (build_dir / "current").symlink_to(Path("builds") / version)
    return build_dir
