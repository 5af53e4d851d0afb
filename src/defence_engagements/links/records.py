"""Link records as they are written in ``data/`` (see ARCHITECTURE.md, "Wikidata links").

    de:country/jp dex:wikidataLink de:wikidata-link/country-jp .
    de:wikidata-link/country-jp a dex:WikidataLink ;
        dex:wikidataItem <http://www.wikidata.org/entity/Q17> ;
        dex:labelSeen "Japan"@en ;
        dex:verifiedOn "2026-11-22"^^xsd:date ;
        dex:evidence "…" .

Everything here reads the Turtle sources directly, so `links check` works
without a build.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph
from pyoxigraph import Literal, NamedNode

from defence_engagements.errors import ConfigurationError, RdfSyntaxError, SourceLocation
from defence_engagements.namespaces import DEX, PREFIXES, WIKIDATA_ENTITY, split_thing_iri

LINKS_FILE = "wikidata-links.ttl"
WIKIDATA_LINK = DEX + "WikidataLink"
WIKIDATA_LINK_PROPERTY = DEX + "wikidataLink"
WIKIDATA_ITEM = DEX + "wikidataItem"
LABEL_SEEN = DEX + "labelSeen"
VERIFIED_ON = DEX + "verifiedOn"
EVIDENCE = DEX + "evidence"
RDF_TYPE = PREFIXES["rdf"] + "type"

# Properties whose values are an entity's own names, in order of preference.
NAME_PROPERTIES = (
    PREFIXES["skos"] + "prefLabel",
    PREFIXES["rdfs"] + "label",
    PREFIXES["foaf"] + "name",
    PREFIXES["schema"] + "name",
    PREFIXES["skos"] + "altLabel",
    PREFIXES["foaf"] + "nick",
    PREFIXES["schema"] + "alternateName",
)

# Where a person's name is split; joined, it is one more name to look up.
GIVEN_FAMILY_PROPERTIES = (
    (PREFIXES["foaf"] + "givenName", PREFIXES["foaf"] + "familyName"),
    (PREFIXES["schema"] + "givenName", PREFIXES["schema"] + "familyName"),
)


@dataclass(frozen=True)
class Name:
    text: str
    language: str | None = None


@dataclass(frozen=True)
class LinkRecord:
    entity: str
    record: str
    item: str  # the Wikidata entity IRI
    label_seen: Name | None
    verified_on: str | None
    evidence: tuple[str, ...]

    @property
    def qid(self) -> str:
        return self.item.removeprefix(WIKIDATA_ENTITY)

    @property
    def kind(self) -> str:
        parts = split_thing_iri(self.entity)
        return parts[0] if parts else ""


@dataclass
class _RecordParts:
    seen: Name | None = None
    verified: str | None = None
    evidence: list[str] = field(default_factory=list)


@dataclass
class DataGraph:
    """What the linking tools need from ``data/``: names, neighbours, link records."""

    store: pyoxigraph.Store
    files: list[Path] = field(default_factory=list)

    def _literals(self, entity: str, prop: str) -> list[Literal]:
        return [
            quad.object
            for quad in self.store.quads_for_pattern(NamedNode(entity), NamedNode(prop), None)
            if isinstance(quad.object, Literal)
        ]

    def names(self, entity: str) -> list[Name]:
        """The entity's names, preferred first; a given + family name counts as one too."""
        found = [
            Name(literal.value, literal.language)
            for prop in NAME_PROPERTIES
            for literal in self._literals(entity, prop)
        ]
        for given_prop, family_prop in GIVEN_FAMILY_PROPERTIES:
            for given in self._literals(entity, given_prop):
                for family in self._literals(entity, family_prop):
                    found.append(Name(f"{given.value} {family.value}", given.language))
        return list(dict.fromkeys(found))

    def records(self) -> list[LinkRecord]:
        rows = self.store.query(
            f"""
            SELECT ?entity ?record ?item ?seen ?verified ?evidence WHERE {{
              ?entity <{WIKIDATA_LINK_PROPERTY}> ?record .
              OPTIONAL {{ ?record <{WIKIDATA_ITEM}> ?item }}
              OPTIONAL {{ ?record <{LABEL_SEEN}> ?seen }}
              OPTIONAL {{ ?record <{VERIFIED_ON}> ?verified }}
              OPTIONAL {{ ?record <{EVIDENCE}> ?evidence }}
            }}"""
        )
        grouped: dict[tuple[str, str, str], _RecordParts] = {}
        for row in rows:
            entity, record, item = (row["entity"], row["record"], row["item"])
            key = (entity.value, record.value, item.value if item is not None else "")
            parts = grouped.setdefault(key, _RecordParts())
            seen = row["seen"]
            if isinstance(seen, Literal) and parts.seen is None:
                parts.seen = Name(seen.value, seen.language)
            if row["verified"] is not None:
                parts.verified = row["verified"].value
            if row["evidence"] is not None and row["evidence"].value not in parts.evidence:
                parts.evidence.append(row["evidence"].value)
        return sorted(
            (
                LinkRecord(
                    entity=entity,
                    record=record,
                    item=item,
                    label_seen=parts.seen,
                    verified_on=parts.verified,
                    evidence=tuple(parts.evidence),
                )
                for (entity, record, item), parts in grouped.items()
            ),
            key=lambda r: (r.entity, r.item),
        )

    def entities(self, kinds: Iterable[str]) -> list[str]:
        """Our things of the given ``{type}``s that the data describes (as subjects)."""
        wanted = set(kinds)
        subjects = {
            quad.subject.value
            for quad in self.store.quads_for_pattern(None, None, None)
            if isinstance(quad.subject, NamedNode)
        }
        return sorted(
            iri
            for iri in subjects
            if (parts := split_thing_iri(iri)) is not None and parts[0] in wanted
        )

    def describes(self, entity: str) -> bool:
        return any(True for _ in self.store.quads_for_pattern(NamedNode(entity), None, None))

    def neighbourhood(self, entity: str, hops: int = 2) -> set[str]:
        """IRIs within ``hops`` links of ``entity``, in either direction."""
        seen = {entity}
        frontier = {entity}
        for _ in range(hops):
            following: set[str] = set()
            for node in frontier:
                iri = NamedNode(node)
                for quad in self.store.quads_for_pattern(iri, None, None):
                    if isinstance(quad.object, NamedNode) and quad.predicate.value != RDF_TYPE:
                        following.add(quad.object.value)
                for quad in self.store.quads_for_pattern(None, None, iri):
                    if isinstance(quad.subject, NamedNode):
                        following.add(quad.subject.value)
            frontier = following - seen
            seen |= following
        return seen - {entity}


def linked_items(records: Iterable[LinkRecord]) -> dict[str, set[str]]:
    items: dict[str, set[str]] = defaultdict(set)
    for record in records:
        items[record.entity].add(record.item)
    return items


def load_data(data_path: Path) -> DataGraph:
    """Parse every ``*.ttl`` under ``data_path`` into one in-memory store."""
    if not data_path.is_dir():
        raise ConfigurationError(f"{data_path}: no such data directory")
    store = pyoxigraph.Store()
    files = sorted(data_path.rglob("*.ttl"))
    for path in files:
        try:
            store.bulk_load(path=path, format=pyoxigraph.RdfFormat.TURTLE)
        except SyntaxError as exc:
            line = getattr(exc, "lineno", None)
            raise RdfSyntaxError(SourceLocation(str(path), line), str(exc.msg or exc)) from exc
    return DataGraph(store=store, files=files)
