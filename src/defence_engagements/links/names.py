"""Comparing names: an exact match after case-folding and NFKC, or a weaker one.

The exact form only forgives case, compatibility characters and spacing. The weak
form also drops diacritics and punctuation ("Dovilė Šakalienė" ~ "Dovile
Sakaliene", "U.S." ~ "US"): good enough for a candidate, never silently as good as
the name itself, so callers report which of the two matched.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from enum import Enum

_SPACE = re.compile(r"\s+")
_PUNCTUATION = re.compile(r"[^\w\s]")
# Ranks and honorifics in front of a person's name in our sources, not part of it.
_TITLES = re.compile(
    r"^(?:(?:maj|lt|brig|gen|adm|col|capt|cmdr|sgt|vice|rear|dr|mr|mrs|ms|hon|prof|sir)\.?\s+)+",
    re.IGNORECASE,
)
_MIDDLE_INITIAL = re.compile(r"(?<=\s)[A-Z]\.\s+")


class NameMatch(Enum):
    EXACT = "exact"
    WEAK = "weak"
    NONE = "none"


def exact_form(name: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", name).casefold()).strip()


def weak_form(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", exact_form(name))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _SPACE.sub(" ", _PUNCTUATION.sub("", stripped)).strip()


def compare(expected: str, seen: str) -> NameMatch:
    if exact_form(expected) == exact_form(seen):
        return NameMatch.EXACT
    if weak_form(expected) and weak_form(expected) == weak_form(seen):
        return NameMatch.WEAK
    return NameMatch.NONE


def best_match(expected: str, seen: list[str]) -> NameMatch:
    matches = {compare(expected, name) for name in seen}
    for kind in (NameMatch.EXACT, NameMatch.WEAK):
        if kind in matches:
            return kind
    return NameMatch.NONE


def similarity(expected: str, seen: str) -> float:
    """1.0 for an exact match, 0.9 for a weak one, else a ratio below 0.9."""
    match = compare(expected, seen)
    if match is NameMatch.EXACT:
        return 1.0
    if match is NameMatch.WEAK:
        return 0.9
    return 0.89 * SequenceMatcher(None, weak_form(expected), weak_form(seen)).ratio()


def search_variants(name: str) -> list[str]:
    """The forms worth an exact label lookup: as written, without rank, without initials."""
    variants = [name.strip()]
    untitled = _TITLES.sub("", name.strip())
    variants.append(untitled)
    variants.append(_MIDDLE_INITIAL.sub("", untitled))
    return list(dict.fromkeys(v for v in variants if v))
