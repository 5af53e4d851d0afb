"""The build's timeline: when each step ran, for measurements taken from outside."""

from __future__ import annotations

import itertools
import json
from pathlib import Path


def test_every_step_has_a_window_in_order(published_build: Path) -> None:
    manifest = json.loads((published_build / "current" / "build.json").read_text())
    timeline = manifest["timeline"]
    assert list(timeline) == ["parse", "validate", "reason", "store", "dumps"]
    assert list(timeline) == list(manifest["timings"])
    windows = list(timeline.values())
    for start, end in windows:
        assert start <= end
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert end <= start  # the progress windows follow one another
