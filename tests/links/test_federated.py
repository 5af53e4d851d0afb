"""The federated example queries join our engagements with a Wikidata stand-in.

The SERVICE IRI in each query is rewritten to the stand-in's URL, and the queries
run through our own endpoint (`engagements serve --service-allow URL
--service-allow-private`) over the published build of the real data, whose
graph/links the build derives from the link records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from .links_support import REPO_ROOT, StandIn

WIKIDATA_SERVICE = "<https://query.wikidata.org/sparql>"
QUERIES = REPO_ROOT / "queries"
RunQuery = Callable[[str], list[dict[str, str]]]


@pytest.fixture(scope="module")
def run_federated(wikidata_stand_in: StandIn, request: pytest.FixtureRequest) -> Iterator[RunQuery]:
    """A function: query file name → list of rows (variable → lexical value)."""

    def rewrite(name: str) -> str:
        text = (QUERIES / name).read_text(encoding="utf-8")
        assert text.startswith("# ") and WIKIDATA_SERVICE in text
        return text.replace(WIKIDATA_SERVICE, f"<{wikidata_stand_in.sparql}>")

    build_dir = request.getfixturevalue("published_build")
    root = request.getfixturevalue("root_helpers_for_links")
    log = request.getfixturevalue("tmp_path_factory").mktemp("federated") / "server.log"
    allow = ("--service-allow", wikidata_stand_in.sparql, "--service-allow-private")
    server = root.start_server(build_dir, *allow, log=log)

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
    joined = {(r["wikidataPerson"], r["birthDate"]) for r in rows}
    # Minoru Kihara is linked and has a date of birth on the stand-in, but the office he
    # holds there is not a head of government's, so he is not in the rows.
    assert joined == {
        ("http://www.wikidata.org/entity/Q6279", "1942-11-20T00:00:00Z"),
        ("http://www.wikidata.org/entity/Q359480", "1957-07-29T00:00:00Z"),
    }
    assert all(
        r["person"].startswith("https://w3id.org/defence-engagements/id/person/") for r in rows
    )
    assert all(r["name"] and int(r["engagements"]) >= 1 for r in rows)


@pytest.mark.parametrize("name", sorted(p.name for p in QUERIES.glob("federated-*.rq")))
def test_the_default_allow_list_admits_each_federated_query(name: str) -> None:
    from defence_engagements.query.service_policy import ServicePolicy
    from defence_engagements.settings import load_settings

    settings = load_settings()
    policy = ServicePolicy(allow=settings.service_allow, allow_private=False)
    text = (QUERIES / name).read_text(encoding="utf-8")

    # A public address stands in for DNS: no lookup leaves this machine.
    def public_resolver(host: str) -> list[str]:
        assert host == "query.wikidata.org"
        return ["93.184.216.34"]  # any public address: nothing is contacted

    assert policy.check(text, public_resolver) == ["https://query.wikidata.org/sparql"]
