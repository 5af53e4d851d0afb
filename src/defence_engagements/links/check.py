"""Re-verify every link record against a Wikidata SPARQL endpoint.

For each link: the item exists, is not a redirect (the query service shows a merged
item as ``wd:OLD owl:sameAs wd:NEW``), carries the expected name among its labels
and aliases in any language, and is of a plausible type for our entity.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from defence_engagements.links import queries
from defence_engagements.links.expected_types import all_expected_iris, expected_for
from defence_engagements.links.names import NameMatch, best_match
from defence_engagements.links.records import DataGraph, LinkRecord
from defence_engagements.links.wikidata_client import WikidataClient, batched
from defence_engagements.namespaces import WIKIDATA_ENTITY, WIKIDATA_ITEM_PATTERN


class Severity(Enum):
    PROBLEM = "problem"  # the link is wrong or stale: check fails
    WARNING = "warning"  # a person should look; fails only with --strict


@dataclass(frozen=True)
class Finding:
    entity: str
    qid: str
    code: str  # malformed, duplicate, incomplete, missing, redirect, label, weak-label, type
    message: str
    severity: Severity = Severity.PROBLEM

    def as_json(self) -> dict[str, str]:
        return {
            "entity": self.entity,
            "qid": self.qid,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
        }


@dataclass
class ItemFacts:
    redirects: set[str] = field(default_factory=set)
    names: list[str] = field(default_factory=list)
    classes: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)

    @property
    def exists(self) -> bool:
        return bool(self.redirects or self.names or self.classes)

    def as_json(self) -> dict[str, list[str]]:
        return {
            "redirects": sorted(self.redirects),
            "names": self.names,
            "classes": sorted(self.classes),
            "types": sorted(self.types),
        }

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> ItemFacts:
        return cls(
            redirects=set(entry.get("redirects", ())),
            names=list(entry.get("names", ())),
            classes=set(entry.get("classes", ())),
            types=set(entry.get("types", ())),
        )


@dataclass
class CheckReport:
    links: int
    findings: list[Finding]

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.PROBLEM]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]


def qid_of(iri: str) -> str:
    return iri.removeprefix(WIKIDATA_ENTITY)


def fetch_facts(client: WikidataClient, items: list[str], batch_size: int) -> dict[str, ItemFacts]:
    """What the endpoint knows of each item, cached per item.

    Caching per item (not per batch query) keeps a re-check incremental: adding one
    link asks only about its item, however the batches would have shifted.
    """
    facts: dict[str, ItemFacts] = {}
    unknown: list[str] = []
    for item in items:
        entry = client.cached_entry(_facts_key(item))
        if entry is None:
            unknown.append(item)
        else:
            facts[item] = ItemFacts.from_json(entry)
    for batch in batched(unknown, batch_size):
        fresh: dict[str, ItemFacts] = {item: ItemFacts() for item in batch}
        for row in client.select(queries.item_facts(batch), cached=False):
            item = fresh[row["item"].value]
            if "redirect" in row:
                item.redirects.add(row["redirect"].value)
            if "name" in row:
                item.names.append(row["name"].value)
            if "class" in row:
                item.classes.add(row["class"].value)
        for row in client.select(queries.item_types(batch, all_expected_iris()), cached=False):
            fresh[row["item"].value].types.add(row["type"].value)
        for item, item_facts in fresh.items():
            client.store_entry(_facts_key(item), item_facts.as_json())
        facts.update(fresh)
    return facts


def _facts_key(item: str) -> str:
    # The expected types are part of the answer: a changed table must miss the cache.
    return f"item-facts/1 {item} types={' '.join(all_expected_iris())}"


def local_findings(records: list[LinkRecord]) -> list[Finding]:
    """What is wrong with the records themselves, before asking anyone."""
    findings: list[Finding] = []
    by_entity: dict[str, set[str]] = defaultdict(set)
    by_item: dict[str, set[str]] = defaultdict(set)
    for record in records:
        if not WIKIDATA_ITEM_PATTERN.match(record.item):
            findings.append(
                Finding(
                    record.entity,
                    record.qid or "-",
                    "malformed",
                    f"<{record.item}> is not a Wikidata item IRI"
                    if record.item
                    else f"{record.record} has no dex:wikidataItem",
                )
            )
            continue
        missing = [
            prop
            for prop, value in (
                ("dex:labelSeen", record.label_seen),
                ("dex:verifiedOn", record.verified_on),
                ("dex:evidence", record.evidence),
            )
            if not value
        ]
        if missing:
            findings.append(
                Finding(
                    record.entity,
                    record.qid,
                    "incomplete",
                    f"the link record has no {', '.join(missing)}",
                    Severity.WARNING,
                )
            )
        by_entity[record.entity].add(record.qid)
        by_item[record.qid].add(record.entity)
    for entity, qids in sorted(by_entity.items()):
        if len(qids) > 1:
            for qid in sorted(qids):
                others = ", ".join(sorted(qids - {qid}))
                findings.append(
                    Finding(entity, qid, "duplicate", f"the entity is also linked to {others}")
                )
    for qid, entities in sorted(by_item.items()):
        if len(entities) > 1:
            for entity in sorted(entities):
                others = ", ".join(sorted(entities - {entity}))
                findings.append(
                    Finding(entity, qid, "duplicate", f"{qid} is also linked from {others}")
                )
    return findings


def _expected_names(record: LinkRecord, data: DataGraph) -> list[str]:
    names = [record.label_seen.text] if record.label_seen else []
    names += [name.text for name in data.names(record.entity)]
    return list(dict.fromkeys(names))


def judge(record: LinkRecord, facts: ItemFacts, data: DataGraph) -> list[Finding]:
    """Findings for one well-formed link, given what the endpoint knows of its item."""
    qid = record.qid
    if not facts.exists:
        return [
            Finding(record.entity, qid, "missing", f"{qid} does not exist (no labels, no class)")
        ]
    if facts.redirects:
        targets = ", ".join(sorted(qid_of(t) for t in facts.redirects))
        return [Finding(record.entity, qid, "redirect", f"{qid} is a redirect to {targets}")]
    findings: list[Finding] = []
    expected = _expected_names(record, data)
    matches = {name: best_match(name, facts.names) for name in expected}
    if expected and NameMatch.EXACT not in matches.values():
        shown = " / ".join(f'"{name}"' for name in expected)
        if NameMatch.WEAK in matches.values():
            findings.append(
                Finding(
                    record.entity,
                    qid,
                    "weak-label",
                    f"{qid} has {shown} only without case/diacritics/punctuation",
                    Severity.WARNING,
                )
            )
        else:
            findings.append(
                Finding(record.entity, qid, "label", f"{qid} has no label or alias {shown}")
            )
    wanted = expected_for(record.kind)
    if wanted and not facts.types & {t.iri for t in wanted}:
        classes = ", ".join(sorted(qid_of(c) for c in facts.classes)) or "no P31"
        allowed = ", ".join(f"{t.qid} {t.label}" for t in wanted)
        findings.append(
            Finding(
                record.entity,
                qid,
                "type",
                f"{qid} (P31: {classes}) is not of a class expected for a {record.kind}: {allowed}",
            )
        )
    return findings


def check_links(data: DataGraph, client: WikidataClient, *, batch_size: int = 25) -> CheckReport:
    records = data.records()
    findings = local_findings(records)
    valid = [r for r in records if WIKIDATA_ITEM_PATTERN.match(r.item)]
    items = sorted({r.item for r in valid}, key=lambda iri: int(qid_of(iri)[1:]))
    facts = fetch_facts(client, items, batch_size) if items else {}
    for record in valid:
        findings.extend(judge(record, facts.get(record.item, ItemFacts()), data))
    return CheckReport(links=len(records), findings=findings)


def verify_one(client: WikidataClient, data: DataGraph, record: LinkRecord) -> list[Finding]:
    """The problems (not warnings) the endpoint shows for one prospective link."""
    facts = fetch_facts(client, [record.item], batch_size=1)
    findings = judge(record, facts.get(record.item, ItemFacts()), data)
    return [f for f in findings if f.severity is Severity.PROBLEM]
