"""Fixtures for the link tests (helpers live in links_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .links_support import StandIn, start_stand_in


@pytest.fixture(scope="session")
def wikidata_stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    stand_in = start_stand_in(tmp_path_factory.mktemp("wikidata-stand-in"))
    yield stand_in
    stand_in.stop()
