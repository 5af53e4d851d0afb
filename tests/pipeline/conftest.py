"""Fixture trees: a miniature repository (tests/pipeline/data) copied per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_support import make_tree

from defence_engagements.settings import Settings


@pytest.fixture
def tree(tmp_path: Path) -> Settings:
    """Settings for a fresh copy of the fixture tree, with its own build directory."""
    return make_tree(tmp_path / "repo")
