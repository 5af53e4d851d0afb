"""Helpers for the pipeline and CLI tests: miniature repositories to build."""

from __future__ import annotations

import shutil
from pathlib import Path

from defence_engagements.settings import Settings, load_settings

FIXTURE_TREE = Path(__file__).parent / "data"
REPO_ROOT = Path(__file__).resolve().parents[2]


def make_tree(root: Path, source: Path = FIXTURE_TREE) -> Settings:
    """A copy of a source tree (ontology, data, shapes) under ``root``, with settings."""
    for part in ("ontology", "data", "shapes"):
        shutil.copytree(source / part, root / part, ignore=shutil.ignore_patterns("text"))
    return load_settings(repo_root=root, build_dir=root / "build")


def tree_env(settings: Settings) -> dict[str, str]:
    """Environment that points a CLI subprocess at a tree."""
    return {
        "ENGAGEMENTS_REPO_ROOT": str(settings.repo_root),
        "ENGAGEMENTS_BUILD_DIR": str(settings.build_path),
    }
