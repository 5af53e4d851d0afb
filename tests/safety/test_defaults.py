"""The documented safety defaults: a 30 s query time limit, at most 100,000 rows per
answer, and SERVICE allowed to https://query.wikidata.org/sparql only.

They are read from the settings with no configuration, from `engagements serve
--help`, and — where it can be seen quickly — from a server started without options.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import httpx
import pytest

from defence_engagements.settings import Settings, load_settings

from .conftest import LiveServer

TIME_LIMIT = 30.0
MAX_ROWS = 100_000
ALLOW_LIST = ("https://query.wikidata.org/sparql",)


def test_settings_defaults_without_any_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("ENGAGEMENTS_"):
            monkeypatch.delenv(name)
    # A root without engagements.toml: nothing but the defaults.
    for settings in (Settings(repo_root=tmp_path), load_settings(tmp_path)):
        assert settings.query_timeout == TIME_LIMIT
        assert settings.max_rows == MAX_ROWS
        assert settings.service_allow == ALLOW_LIST
        assert settings.service_allow_private is False


def test_serve_help_states_the_defaults(root_conftest) -> None:  # type: ignore[no-untyped-def]
    result = root_conftest.run_cli("serve", "--help", env={"COLUMNS": "300"}, timeout=60)
    assert result.returncode == 0, result.stderr
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.stdout).split())
    assert f"(default {TIME_LIMIT:g})" in text
    assert f"(default {MAX_ROWS})" in text
    assert f"Default: {ALLOW_LIST[0]}." in text


def test_a_default_server_cuts_answers_at_100000_rows(live_server: LiveServer) -> None:
    query = f"SELECT ?a WHERE {{ ?a ?b ?c . ?d ?e ?f }} LIMIT {MAX_ROWS + 1}"
    with httpx.Client(timeout=60) as client:
        answer = client.get(
            live_server.url("sparql"), params={"query": query}, headers={"Accept": "text/csv"}
        )
    assert answer.status_code == 200
    assert answer.headers["x-result-truncated"] == "true"
    assert answer.headers["x-result-limit"] == str(MAX_ROWS)
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["a"] and len(rows) - 1 == MAX_ROWS


def test_a_default_server_allows_only_wikidata_for_service(live_server: LiveServer) -> None:
    # A literal loopback address: refused by the allow-list before any connection or lookup.
    query = "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"
    with httpx.Client(timeout=30) as client:
        answer = client.get(live_server.url("sparql"), params={"query": query})
    assert answer.status_code == 403
    detail = answer.json()["detail"]
    allowed = re.search(r"allowed: (.*)\)$", detail)
    assert allowed, detail
    assert tuple(re.findall(r"<([^>]+)>", allowed.group(1))) == ALLOW_LIST
