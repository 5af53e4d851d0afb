"""The federated example queries join our engagements with a Wikidata stand-in.

The SERVICE IRI in each query is rewritten to the stand-in's URL. When the server
supports the SERVICE allow-list flags, the queries run through our own endpoint
(`engagements serve --service-allow URL --service-allow-private`) over the
published build; otherwise pyoxigraph runs them over a store built here the same
way (asserted data + OWL 2 RL closure + the links derived from the records).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator

import httpx
import pyoxigraph
import pytest
from links_support import REPO_ROOT, StandIn

WIKIDATA_SERVICE = "<https://query.wikidata.org/sparql>"
QUERIES = REPO_ROOT / "queries"
RunQuery = Callable[[str], list[dict[str, str]]]
LINKS_GRAPH = pyoxigraph.NamedNode("https://w3id.org/defence-engagements/graph/links")

# Links derived from the records as docs/ARCHITECTURE.md prescribes for graph/links.
DERIVE_LINKS = """
PREFIX dex: <https://w3id.org/defence-engagements/def#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
CONSTRUCT { ?entity owl:sameAs ?item . ?entity skos:exactMatch ?item . }
WHERE { ?entity dex:wikidataLink/dex:wikidataItem ?item }
"""


def serve_supports_service_flags() -> bool:
    result = subprocess.run(
        [sys.executable, "-m", "defence_engagements", "serve", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    built = subprocess.run(
        [sys.executable, "-m", "defence_engagements", "build", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return (
        result.returncode == 0
        and built.returncode == 0
        and ("--service-allow-private" in result.stdout)
    )


def local_store() -> pyoxigraph.Store:
    from defence_engagements.pipeline.rules import close_store

    store = pyoxigraph.Store()
    for folder in ("ontology", "data"):
        for path in sorted((REPO_ROOT / folder).rglob("*.ttl")):
            store.load(path=path, format=pyoxigraph.RdfFormat.TURTLE)
    close_store(store)
    links = [
        pyoxigraph.Quad(t.subject, t.predicate, t.object, LINKS_GRAPH)
        for t in store.query(DERIVE_LINKS)
    ]
    assert links, "the data has no link records"
    store.extend(links)
    return store


@pytest.fixture(scope="module")
def run_federated(wikidata_stand_in: StandIn, request: pytest.FixtureRequest) -> Iterator[object]:
    """A function: query file name → list of rows (variable → lexical value)."""

    def rewrite(name: str) -> str:
        text = (QUERIES / name).read_text(encoding="utf-8")
        assert text.startswith("# ") and WIKIDATA_SERVICE in text
        return text.replace(WIKIDATA_SERVICE, f"<{wikidata_stand_in.sparql}>")

    if serve_supports_service_flags():
        root = request.getfixturevalue("root_helpers_for_links")
        build_dir = request.getfixturevalue("published_build")
        log = request.getfixturevalue("tmp_path_factory").mktemp("federated") / "server.log"
        server = root.start_server(
            build_dir,
            "--service-allow",
            wikidata_stand_in.sparql,
            "--service-allow-private",
            log=log,
        )

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
        return

    store = local_store()

    def in_process(name: str) -> list[dict[str, str]]:
        solutions = store.query(rewrite(name), use_default_graph_as_union=True)
        return [
            {v.value: s[v].value for v in solutions.variables if s[v] is not None}
            for s in solutions
        ]

    yield in_process


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
