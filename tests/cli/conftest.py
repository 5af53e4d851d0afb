"""CLI tests run `engagements` in subprocesses against fixture trees (tests/pipeline/data)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))

from pipeline_support import make_tree

from defence_engagements.settings import Settings


@pytest.fixture
def tree(tmp_path: Path) -> Settings:
    return make_tree(tmp_path / "repo")
