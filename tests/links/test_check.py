"""`engagements links check` against a stand-in Wikidata (a real `oxigraph serve`)."""

from __future__ import annotations

import re
from pathlib import Path

from links_support import FIXTURES, StandIn, links_env, run_engagements, start_stand_in

FINDING = re.compile(r"^\s*(problem|warning) (Q\d+)\s+(\S+): ([a-z-]+): ", re.MULTILINE)


def findings(stdout: str) -> set[tuple[str, str, str, str]]:
    return {match.groups() for match in FINDING.finditer(stdout)}


def test_planted_problems_are_named_exactly(wikidata_stand_in: StandIn, tmp_path: Path) -> None:
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
    lenient = run_engagements("links", "check", "--endpoint", wikidata_stand_in.sparql, env=env)
    strict = run_engagements(
        "links", "check", "--strict", "--endpoint", wikidata_stand_in.sparql, env=env
    )
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert findings(strict.stdout) == {
        ("warning", "Q99990004", "person/dovile-sakaliene", "weak-label")
    }


def test_clean_data_passes_and_a_second_run_needs_no_endpoint(tmp_path: Path) -> None:
    stand_in = start_stand_in(tmp_path / "wikidata")
    env = links_env(FIXTURES / "data-clean", tmp_path / "build")
    try:
        first = run_engagements("links", "check", "--endpoint", stand_in.sparql, env=env)
    finally:
        stand_in.stop()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "checked 7 link(s)" in first.stdout and "0 problem(s)" in first.stdout
    assert list((tmp_path / "build" / "cache" / "links").glob("*.json"))

    # The stand-in is gone: only the on-disk cache can answer.
    second = run_engagements("links", "check", "--endpoint", stand_in.sparql, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "all answers from the cache" in second.stdout

    refreshed = run_engagements(
        "links", "check", "--refresh", "--endpoint", stand_in.sparql, env=env
    )
    assert refreshed.returncode == 2, refreshed.stdout + refreshed.stderr
    assert "did not answer after 2 attempts" in refreshed.stderr
    assert "Traceback" not in refreshed.stderr


def test_unreachable_endpoint_exits_2(tmp_path: Path) -> None:
    from links_support import free_port

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
