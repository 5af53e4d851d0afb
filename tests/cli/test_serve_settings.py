"""How `engagements serve` hands its settings to several server processes and shares
the query workers out between them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from defence_engagements.settings import Settings, load_settings


def test_settings_survive_the_trip_through_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("ENGAGEMENTS_"):
            monkeypatch.delenv(name)
    chosen = Settings(repo_root=tmp_path).with_overrides(
        port=8123,
        public_base_url="https://data.example.org/",
        query_timeout=2.5,
        max_rows=77,
        server_processes=3,
        query_workers=5,
        service_allow=("https://a.example/sparql", "https://b.example/sparql"),
        service_allow_private=True,
        access_log=False,
        build_dir=tmp_path / "elsewhere",
        http_parser="h11",
    )
    for name, value in chosen.environment().items():
        monkeypatch.setenv(name, value)
    assert load_settings() == chosen
    nothing_allowed = chosen.with_overrides(service_allow=())
    for name, value in nothing_allowed.environment().items():
        monkeypatch.setenv(name, value)
    assert load_settings().service_allow == ()


def test_query_workers_are_shared_out_between_server_processes(tmp_path: Path) -> None:
    base = Settings(repo_root=tmp_path)
    assert (base.server_processes, base.query_workers) == (0, 2)
    assert base.serving_processes == len(os.sched_getaffinity(0))  # one per core
    for processes, workers, each in [(1, 2, 2), (2, 2, 1), (2, 5, 2), (4, 2, 1), (2, 0, 0)]:
        settings = base.with_overrides(server_processes=processes, query_workers=workers)
        assert (settings.serving_processes, settings.workers_per_process) == (processes, each)
