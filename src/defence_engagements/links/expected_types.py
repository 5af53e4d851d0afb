"""Which Wikidata classes an item must fall under (``wdt:P31/wdt:P279*``), per our type.

The key is the ``{type}`` segment of our IRIs (``…/id/{type}/{slug}``), so the table
does not depend on the ontology's class names. An item is plausible when it is an
instance of any listed class or of a subclass of one. Types not in the table
(topics, engagement types) are not type-checked: a topic may link to anything.
"""

from __future__ import annotations

from dataclasses import dataclass

WD = "http://www.wikidata.org/entity/"


@dataclass(frozen=True)
class ExpectedType:
    qid: str
    label: str

    @property
    def iri(self) -> str:
        return WD + self.qid


EXPECTED_TYPES: dict[str, tuple[ExpectedType, ...]] = {
    "person": (ExpectedType("Q5", "human"),),
    "country": (
        ExpectedType("Q6256", "country"),
        ExpectedType("Q3624078", "sovereign state"),
    ),
    "organization": (ExpectedType("Q43229", "organization"),),
    "place": (
        ExpectedType("Q2221906", "geographic location"),
        ExpectedType("Q515", "city"),
        ExpectedType("Q486972", "human settlement"),
        ExpectedType("Q56061", "administrative territorial entity"),
        ExpectedType("Q82794", "geographic region"),
        ExpectedType("Q5107", "continent"),
        ExpectedType("Q15324", "body of water"),
        ExpectedType("Q618123", "geographical feature"),
        ExpectedType("Q245016", "military base"),
    ),
}

# Entity types `links suggest` looks for candidates for.
SUGGESTABLE_TYPES = tuple(EXPECTED_TYPES)


def expected_for(kind: str) -> tuple[ExpectedType, ...]:
    return EXPECTED_TYPES.get(kind, ())


def all_expected_iris() -> list[str]:
    return sorted({t.iri for types in EXPECTED_TYPES.values() for t in types})
