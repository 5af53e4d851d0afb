"""Name comparison (exact vs weak) and the link records of the real data."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from defence_engagements.links.check import local_findings
from defence_engagements.links.names import NameMatch, compare, search_variants, similarity
from defence_engagements.links.records import load_data
from defence_engagements.namespaces import WIKIDATA_ITEM_PATTERN

from .links_support import REPO_ROOT, invoke


@pytest.mark.parametrize(
    ("expected", "seen", "match"),
    [
        ("Japan", "japan", NameMatch.EXACT),
        ("ＪＡＰＡＮ", "Japan", NameMatch.EXACT),  # NFKC: full-width letters
        ("Strauss", "STRAUß", NameMatch.EXACT),  # case-folding: ß → ss
        ("Joe  Biden ", "Joe Biden", NameMatch.EXACT),
        ("Dovilė Šakalienė", "Dovile Sakaliene", NameMatch.WEAK),
        ("U.S. Forces Japan", "US Forces Japan", NameMatch.WEAK),
        ("USEUCOM‘s", "USEUCOM's", NameMatch.WEAK),  # typographic apostrophe
        ("Stuttgart", "Stockholm", NameMatch.NONE),
        ("Biden", "Joe Biden", NameMatch.NONE),
        ("岸田文雄", "岸田文雄", NameMatch.EXACT),
    ],
)
def test_exact_and_weak_matches(expected: str, seen: str, match: NameMatch) -> None:
    assert compare(expected, seen) is match


@given(st.text(min_size=1), st.text(min_size=1))
def test_similarity_ranks_exact_over_weak_over_the_rest(a: str, b: str) -> None:
    score = similarity(a, b)
    assert 0.0 <= score <= 1.0
    assert (score == 1.0) == (compare(a, b) is NameMatch.EXACT)
    if compare(a, b) is NameMatch.NONE:
        assert score < 0.9


def test_search_variants_drop_rank_and_initials() -> None:
    assert search_variants("Maj. Gen. Daniel Lasica") == [
        "Maj. Gen. Daniel Lasica",
        "Daniel Lasica",
    ]
    assert search_variants("Robert M. Gates") == ["Robert M. Gates", "Robert Gates"]
    assert search_variants("NATO") == ["NATO"]


def test_the_real_link_records_are_complete_and_unique() -> None:
    data = load_data(REPO_ROOT / "data")
    records = data.records()
    assert records, "data/ has no Wikidata link records"
    assert all(WIKIDATA_ITEM_PATTERN.match(r.item) for r in records)
    assert local_findings(records) == []
    for record in records:
        assert record.record.endswith(
            f"/id/wikidata-link/{record.kind}-{record.entity.rsplit('/', 1)[1]}"
        )


def test_broken_turtle_and_missing_data_are_one_line_errors(tmp_path: Path) -> None:
    env = {"ENGAGEMENTS_BUILD_DIR": str(tmp_path / "build")}
    missing = invoke("links", "check", env={**env, "ENGAGEMENTS_DATA_DIR": str(tmp_path / "no")})
    assert missing.returncode == 2 and "no such data directory" in missing.stderr
    data = tmp_path / "data"
    data.mkdir()
    (data / "broken.ttl").write_text("@prefix dex: <x#> .\n\ndex:a dex:b .\n", encoding="utf-8")
    broken = invoke("links", "check", env={**env, "ENGAGEMENTS_DATA_DIR": str(data)})
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "broken.ttl" in broken.stderr and "Traceback" not in broken.stderr
