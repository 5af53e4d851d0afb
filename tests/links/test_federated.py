"""The federated example queries join our engagements with a Wikidata stand-in.

The SERVICE IRI in each query is rewritten to the stand-in's URL. When the
project can build, the queries run through our own endpoint over the published
build (`engagements serve --service-allow URL --service-allow-private`, or the same
settings by environment while `serve` lacks the flags); until then pyoxigraph runs
them over a store built here the same way (asserted data + OWL 2 RL closure + the
links derived from the records).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pyoxigraph
import pytest

from .links_support import REPO_ROOT, StandIn

WIKIDATA_SERVICE = "<https://query.wikidata.org/sparql>"
QUERIES = REPO_ROOT / "queries"
RunQuery = Callable[[str], list[dict[str, str]]]
GRAPH = "https://w3id.org/defence-engagements/graph/"

# Links derived from the records as docs/ARCHITECTURE.md prescribes for graph/links.
DERIVE_LINKS = """
PREFIX dex: <https://w3id.org/defence-engagements/def#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
CONSTRUCT { ?entity owl:sameAs ?item . ?entity skos:exactMatch ?item . }
WHERE { ?entity dex:wikidataLink/dex:wikidataItem ?item }
"""


def _help(command: str) -> str | None:
    result = subprocess.run(
        [sys.executable, "-m", "defence_engagements", command, "--help"],
        cwd=REPO_ROOT,
        env={**os.environ, "COLUMNS": "400"},  # long option names are not cut
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout if result.returncode == 0 else None


def server_arguments(stand_in: str) -> tuple[list[str], dict[str, str]] | None:
    """How to start our server with the stand-in allowed, or None without a build command.

    The allow-list flags when `serve` has them, else the same settings by environment.
    """
    serve_help, build_help = _help("serve"), _help("build")
    if serve_help is None or build_help is None:
        return None
    if "--service-allow-private" in serve_help:
        return ["--service-allow", stand_in, "--service-allow-private"], {}
    return [], {"ENGAGEMENTS_SERVICE_ALLOW": stand_in, "ENGAGEMENTS_SERVICE_ALLOW_PRIVATE": "1"}


def local_build(build_dir: Path) -> Path:
    """A published build in the real layout, made here the way the build makes one:
    ontology and data as asserted, the OWL 2 RL closure, the links from the records."""
    from defence_engagements.pipeline.rules import close_store

    asserted: dict[str, list[pyoxigraph.Quad]] = {}
    for folder in ("ontology", "data"):
        graph = pyoxigraph.NamedNode(GRAPH + folder)
        asserted[folder] = [
            pyoxigraph.Quad(q.subject, q.predicate, q.object, graph)
            for path in sorted((REPO_ROOT / folder).rglob("*.ttl"))
            for q in pyoxigraph.parse(path=path, format=pyoxigraph.RdfFormat.TURTLE)
        ]
    reasoning = pyoxigraph.Store()
    reasoning.extend(
        pyoxigraph.Quad(q.subject, q.predicate, q.object, pyoxigraph.DefaultGraph())
        for quads in asserted.values()
        for q in quads
    )
    before = {q.triple for q in reasoning}
    close_store(reasoning)
    inferred = [
        pyoxigraph.Quad(q.subject, q.predicate, q.object, pyoxigraph.NamedNode(GRAPH + "inferred"))
        for q in reasoning
        if q.triple not in before
    ]
    links = [
        pyoxigraph.Quad(t.subject, t.predicate, t.object, pyoxigraph.NamedNode(GRAPH + "links"))
        for t in reasoning.query(DERIVE_LINKS)
    ]
    assert links, "the data has no link records"
    root = build_dir / "builds" / "local"
    (root / "dumps").mkdir(parents=True)
    store = pyoxigraph.Store(str(root / "store"))
    store.extend([*asserted["ontology"], *asserted["data"], *inferred, *links])
    store.flush()
    del store
    manifest = {"version": "local", "built_at": "2026-11-22T00:00:00Z", "graphs": {}}
    (root / "build.json").write_text(json.dumps(manifest), encoding="utf-8")
    (build_dir / "current").symlink_to(Path("builds") / "local")
    return build_dir


@pytest.fixture(scope="module")
def run_federated(wikidata_stand_in: StandIn, request: pytest.FixtureRequest) -> Iterator[RunQuery]:
    """A function: query file name → list of rows (variable → lexical value)."""

    def rewrite(name: str) -> str:
        text = (QUERIES / name).read_text(encoding="utf-8")
        assert text.startswith("# ") and WIKIDATA_SERVICE in text
        return text.replace(WIKIDATA_SERVICE, f"<{wikidata_stand_in.sparql}>")

    serving = server_arguments(wikidata_stand_in.sparql)
    factory = request.getfixturevalue("tmp_path_factory")
    if serving is not None:
        arguments, env = serving
        build_dir = request.getfixturevalue("published_build")
    else:
        arguments = []
        env = {"ENGAGEMENTS_SERVICE_ALLOW": wikidata_stand_in.sparql}
        env["ENGAGEMENTS_SERVICE_ALLOW_PRIVATE"] = "1"
        build_dir = local_build(factory.mktemp("federated-build"))
    root = request.getfixturevalue("root_helpers_for_links")
    log = factory.mktemp("federated") / "server.log"
    server = root.start_server(build_dir, *arguments, log=log, env=env)

    def through_endpoint(name: str) -> list[dict[str, str]]:
        response = httpx.post(
            server.url("sparql"),
            data={"query": rewrite(name)},
            headers={"Accept": "application/sparql-results+json"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return [
            {k: v["value"] for k, v in row.items()}
            for row in json.loads(response.content)["results"]["bindings"]
        ]

    yield through_endpoint
    root.stop_server(server)


@pytest.fixture(scope="session")
def root_helpers_for_links(pytestconfig: pytest.Config) -> object:
    return pytestconfig.pluginmanager.get_plugin(str(REPO_ROOT / "tests" / "conftest.py"))


def test_heads_of_government_of_participating_countries(run_federated: RunQuery) -> None:
    rows = run_federated("federated-heads-of-government.rq")
    joined = {(r["countryName"], r["wikidataCountry"], r["headOfGovernmentName"]) for r in rows}
    # Only the stand-in's sovereign states with a head of government join; Lithuania
    # and Sweden are sovereign states there without one.
    assert joined == {
        ("Japan", "http://www.wikidata.org/entity/Q17", "Fumio Kishida"),
        ("United States", "http://www.wikidata.org/entity/Q30", "Joe Biden"),
    }
    assert all(int(r["engagements"]) >= 1 for r in rows)


def test_birth_dates_of_participants_who_led_a_government(run_federated: RunQuery) -> None:
    rows = run_federated("federated-participant-birth-dates.rq")
    joined = {(r["person"].rsplit("/", 1)[-1], r["wikidataPerson"], r["birthDate"]) for r in rows}
    # Minoru Kihara is linked and has a date of birth on the stand-in, but the office he
    # holds there is not a head of government's, so he is not in the rows.
    assert joined == {
        ("biden", "http://www.wikidata.org/entity/Q6279", "1942-11-20T00:00:00Z"),
        ("fumio-kishida", "http://www.wikidata.org/entity/Q359480", "1957-07-29T00:00:00Z"),
    }
