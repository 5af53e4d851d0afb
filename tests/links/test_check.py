"""`engagements links check` against a stand-in Wikidata (a real `oxigraph serve`)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .links_support import FIXTURES, StandIn, invoke, links_env, run_engagements, start_stand_in

FINDING = re.compile(r"^\s*(problem|warning) (Q\d+)\s+(\S+): ([a-z-]+): ", re.MULTILINE)


def findings(stdout: str) -> set[tuple[str, str, str, str]]:
    return {match.groups() for match in FINDING.finditer(stdout)}


def test_planted_problems_are_named_exactly(wikidata_stand_in: StandIn, tmp_path: Path) -> None:
    # As a user runs it: a subprocess of the installed command.
    result = run_engagements(
        "links",
        "check",
        "--endpoint",
        wikidata_stand_in.sparql,
        env=links_env(FIXTURES / "data-planted", tmp_path / "build"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert findings(result.stdout) == {
        ("problem", "Q1754", "place/stuttgart", "label"),
        ("problem", "Q99990001", "person/gen-nakatani", "redirect"),
        ("problem", "Q99999999", "organization/ghost", "missing"),
        ("problem", "Q99990002", "place/washington", "type"),
        ("warning", "Q99990004", "person/dovile-sakaliene", "weak-label"),
    }
    assert "redirect to Q5530859" in result.stdout
    assert "12 link(s)" in result.stdout and "4 problem(s), 1 warning(s)" in result.stdout


def test_weak_matches_fail_only_when_strict(wikidata_stand_in: StandIn, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    planted = (FIXTURES / "data-planted" / "planted.ttl").read_text(encoding="utf-8")
    # Keep the prefixes and the one weak-label record.
    header = planted[: planted.index("place:stuttgart")]
    record = planted[planted.index("person:dovile-sakaliene a") : planted.index("# Unlinked")]
    (data / "links.ttl").write_text(header + record, encoding="utf-8")
    env = links_env(data, tmp_path / "build")
    lenient = invoke("links", "check", "--endpoint", wikidata_stand_in.sparql, env=env)
    strict = invoke("links", "check", "--strict", "--endpoint", wikidata_stand_in.sparql, env=env)
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "weak-label" in lenient.stdout
    quiet = invoke("links", "check", "-q", "--endpoint", wikidata_stand_in.sparql, env=env)
    assert (quiet.returncode, quiet.stdout) == (0, "")  # clean enough: nothing to say
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert findings(strict.stdout) == {
        ("warning", "Q99990004", "person/dovile-sakaliene", "weak-label")
    }


def test_clean_data_passes_and_a_second_run_needs_no_endpoint(tmp_path: Path) -> None:
    stand_in = start_stand_in(tmp_path / "wikidata")
    env = links_env(FIXTURES / "data-clean", tmp_path / "build")
    try:
        first = invoke("links", "check", "--endpoint", stand_in.sparql, env=env)
    finally:
        stand_in.stop()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "checked 7 link(s)" in first.stdout and "0 problem(s)" in first.stdout
    assert list((tmp_path / "build" / "cache" / "links").glob("*.json"))

    # The stand-in is gone: only the on-disk cache can answer.
    second = invoke("links", "check", "--endpoint", stand_in.sparql, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "all answers from the cache" in second.stdout

    refreshed = invoke("links", "check", "--refresh", "--endpoint", stand_in.sparql, env=env)
    assert refreshed.returncode == 2, refreshed.stdout + refreshed.stderr
    assert "did not answer after 2 attempts" in refreshed.stderr
    assert "Traceback" not in refreshed.stderr


def test_unreachable_endpoint_exits_2(tmp_path: Path) -> None:
    from .links_support import free_port

    endpoint = f"http://127.0.0.1:{free_port()}/query"
    result = run_engagements(
        "links",
        "check",
        "--endpoint",
        endpoint,
        env=links_env(FIXTURES / "data-clean", tmp_path / "build"),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") <= 3 and "Traceback" not in result.stderr


def test_json_report_and_batches_give_the_same_findings(
    wikidata_stand_in: StandIn, tmp_path: Path
) -> None:
    env = links_env(
        FIXTURES / "data-planted", tmp_path / "build", ENGAGEMENTS_WIKIDATA_BATCH_SIZE="5"
    )
    result = invoke(
        "links", "check", "--format", "json", "--endpoint", wikidata_stand_in.sparql, env=env
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    # 12 distinct items in batches of 5: three batches of two queries each.
    assert report["requests"] == 6 and report["links"] == 12
    assert {(f["severity"], f["qid"], f["code"]) for f in report["findings"]} == {
        ("problem", "Q1754", "label"),
        ("problem", "Q99990001", "redirect"),
        ("problem", "Q99999999", "missing"),
        ("problem", "Q99990002", "type"),
        ("warning", "Q99990004", "weak-label"),
    }


def links_data(tmp_path: Path, records: str) -> Path:
    """A data directory holding the clean fixture's prefixes and ``records``."""
    data = tmp_path / "data"
    data.mkdir()
    clean = (FIXTURES / "data-clean" / "wikidata-links.ttl").read_text(encoding="utf-8")
    header = clean[: clean.index("country:jp dex:wikidataLink")]
    (data / "links.ttl").write_text(header + records, encoding="utf-8")
    return data


def test_incomplete_and_duplicate_records_are_found_without_asking(
    wikidata_stand_in: StandIn, tmp_path: Path
) -> None:
    data = links_data(
        tmp_path,
        """
country:jp rdfs:label "Japan"@en ; dex:wikidataLink link:country-jp .
link:country-jp a dex:WikidataLink ; dex:wikidataItem wd:Q17 ; dex:labelSeen "Japan"@en .
country:us rdfs:label "United States"@en ; dex:wikidataLink link:country-us .
link:country-us a dex:WikidataLink ; dex:wikidataItem wd:Q17 ; dex:labelSeen "Japan"@en ;
    dex:verifiedOn "2026-11-22"^^xsd:date ; dex:evidence "A copy-paste slip." .
place:tokyo rdfs:label "Tokyo"@en ; dex:wikidataLink link:place-tokyo .
link:place-tokyo a dex:WikidataLink ; dex:wikidataItem <http://www.wikidata.org/wiki/Q1490> ;
    dex:labelSeen "Tokyo"@en ; dex:verifiedOn "2026-11-22"^^xsd:date ; dex:evidence "x" .
""",
    )
    result = invoke(
        "links",
        "check",
        "--format",
        "json",
        "--endpoint",
        wikidata_stand_in.sparql,
        env=links_env(data, tmp_path / "build"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    found = {
        (f["entity"].rsplit("/id/", 1)[-1], f["code"])
        for f in json.loads(result.stdout)["findings"]
    }
    assert found == {
        ("country/jp", "incomplete"),  # no dex:verifiedOn, no dex:evidence
        ("country/jp", "duplicate"),  # Q17 is linked from two entities
        ("country/us", "duplicate"),  # (its label seen, "Japan", is on Q17: no label problem)
        ("place/tokyo", "malformed"),  # a page URL, not the entity IRI
    }


def test_a_recheck_asks_only_about_new_items(wikidata_stand_in: StandIn, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(FIXTURES / "data-clean", data)
    env = links_env(data, tmp_path / "build")
    check = ("links", "check", "--format", "json", "--endpoint", wikidata_stand_in.sparql)
    first = json.loads(invoke(*check, env=env).stdout)
    assert (first["links"], first["requests"], first["problems"]) == (7, 2, 0)

    places = data / "places.ttl"
    places.write_text(
        "@prefix dex: <https://w3id.org/defence-engagements/def#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "<https://w3id.org/defence-engagements/id/place/stuttgart> a dex:Place ;\n"
        '    rdfs:label "Stuttgart"@en .\n',
        encoding="utf-8",
    )
    accepted = invoke(
        "links", "accept", "place/stuttgart", "Q1022", "--evidence", "A test's pairing.", env=env
    )
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    second = json.loads(invoke(*check, env=env).stdout)
    # One new item: one batch of two queries; the seven others come from the cache.
    assert (second["links"], second["requests"], second["problems"]) == (8, 2, 0)
    third = json.loads(invoke(*check, env=env).stdout)
    assert (third["links"], third["requests"], third["problems"]) == (8, 0, 0)


ALIAS_ONLY_ITEM = "http://www.wikidata.org/entity/Q99990030"


def test_a_name_found_only_among_the_aliases_is_accepted(
    wikidata_stand_in: StandIn, tmp_path: Path
) -> None:
    # The fixture is what the test needs: "JGSDF" is an alias of the item, never its label.
    ask = 'ASK {{ <{item}> <http://www.w3.org{path}> "JGSDF"@en }}'
    for path, expected in (
        ("/2000/01/rdf-schema#label", False),
        ("/2004/02/skos/core#altLabel", True),
    ):
        answer = httpx.get(
            wikidata_stand_in.sparql,
            params={"query": ask.format(item=ALIAS_ONLY_ITEM, path=path)},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert answer.json()["boolean"] is expected

    data = links_data(
        tmp_path,
        """
organization:jgsdf a dex:Organization ; rdfs:label "JGSDF"@en ;
    dex:wikidataLink link:organization-jgsdf .
link:organization-jgsdf a dex:WikidataLink ;
    dex:wikidataItem wd:Q99990030 ;
    dex:labelSeen "JGSDF"@en ;
    dex:verifiedOn "2026-11-22"^^xsd:date ;
    dex:evidence "Fixture: the abbreviation is an alias of the item." .
""",
    )
    result = invoke(
        "links",
        "check",
        "--strict",
        "--format",
        "json",
        "--endpoint",
        wikidata_stand_in.sparql,
        env=links_env(data, tmp_path / "build"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    # Asked about, found, and not even a weak match: the alias is an exact name of the item.
    assert (report["links"], report["findings"]) == (1, [])
    assert report["requests"] > 0


def test_without_endpoint_a_test_stays_on_loopback(wikidata_offline: str, tmp_path: Path) -> None:
    """tests/conftest.py points the default endpoint at a closed loopback port: a `links`
    run that forgets --endpoint fails at once instead of asking the real Wikidata."""
    assert os.environ["ENGAGEMENTS_WIKIDATA_ENDPOINT"] == wikidata_offline
    assert urlsplit(wikidata_offline).hostname == "127.0.0.1"
    from defence_engagements.settings import load_settings

    assert load_settings().wikidata_endpoint == wikidata_offline
    env = links_env(FIXTURES / "data-clean", tmp_path / "build")
    for result in (invoke("links", "check", env=env), run_engagements("links", "check", env=env)):
        assert result.returncode == 2, result.stdout + result.stderr
        assert "did not answer" in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "build").rglob("*.json"))  # nothing was answered or cached
