"""Shared fixtures for the equality tests: small generated trees, built once."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.generate import Generator

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def generated_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About twenty synthetic engagements (two copies of the real ones)."""
    out = tmp_path_factory.mktemp("synthetic") / "tree"
    Generator(REPO_ROOT, engagements=20, seed=11).write(out, violations=0)
    return out
