"""Candidates for entities without a Wikidata link, ranked for a person to review.

Candidates come from exact label/alias lookups (as written, without rank, without
middle initials; in the name's own language, English and ``mul``). Each is scored:

    score = 0.5 × name similarity + 0.3 × type plausibility + 0.2 × context

- name: 1.0 exact (case-folded, NFKC), 0.9 weak (also without diacritics and
  punctuation), else a string ratio below 0.9;
- type: 1 when ``wdt:P31/wdt:P279*`` reaches a class expected for the entity's type;
- context: the share (up to two) of the candidate's country, citizenship, employer,
  membership, parent or location statements (P17, P27, P108, P463, P749, P131, P361)
  that are items our data already links to near the entity (two hops).

Nothing is published: the review file lists the candidates and the command that
accepts one.
"""

from __future__ import annotations

import csv
import shlex
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph

from defence_engagements.links import queries
from defence_engagements.links.check import qid_of
from defence_engagements.links.expected_types import (
    SUGGESTABLE_TYPES,
    all_expected_iris,
    expected_for,
)
from defence_engagements.links.names import search_variants, similarity
from defence_engagements.links.records import DataGraph, Name, linked_items
from defence_engagements.links.wikidata_client import WikidataClient, batched
from defence_engagements.namespaces import WIKIDATA_ITEM_PATTERN, split_thing_iri

NAME_WEIGHT, TYPE_WEIGHT, CONTEXT_WEIGHT = 0.5, 0.3, 0.2
DEFAULT_LANGUAGES = ("en", "mul")
LOOKUP_ROWS_PER_QUERY = 200
CANDIDATES_PER_ENTITY = 5


@dataclass
class Candidate:
    item: str
    matched: set[tuple[str, str, str]] = field(default_factory=set)  # (how, language, text)
    label: str = ""
    description: str = ""
    classes: set[str] = field(default_factory=set)
    context: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    types: set[str] = field(default_factory=set)
    name_score: float = 0.0
    type_ok: bool | None = None
    context_matches: list[str] = field(default_factory=list)
    score: float = 0.0
    linked_from: list[str] = field(default_factory=list)  # our entities already linked to it

    @property
    def qid(self) -> str:
        return qid_of(self.item)


@dataclass
class Suggestion:
    entity: str
    kind: str
    names: list[Name]
    candidates: list[Candidate]


def _literal(text: str, language: str) -> str:
    return str(pyoxigraph.Literal(text, language=language))


def lookup_rows(
    entity: str, names: Iterable[Name], languages: Iterable[str]
) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for name in names:
        tags = dict.fromkeys([*([name.language] if name.language else []), *languages])
        for variant in search_variants(name.text):
            rows.extend((entity, _literal(variant, tag)) for tag in tags)
    return list(dict.fromkeys(rows))


def _context_items(data: DataGraph, entity: str, links: dict[str, set[str]]) -> set[str]:
    return {item for near in data.neighbourhood(entity) for item in links.get(near, ())}


def _score(candidate: Candidate, names: list[Name], kind: str, context: set[str]) -> None:
    seen = [text for _, _, text in candidate.matched] + [candidate.label] * bool(candidate.label)
    candidate.name_score = max(
        (similarity(name.text, text) for name in names for text in seen), default=0.0
    )
    wanted = {t.iri for t in expected_for(kind)}
    candidate.type_ok = bool(candidate.types & wanted) if wanted else None
    statements = {
        f"{pid}={qid_of(value)}"
        for pid, values in candidate.context.items()
        for value in values
        if value in context
    }
    candidate.context_matches = sorted(statements)
    candidate.score = round(
        NAME_WEIGHT * candidate.name_score
        + TYPE_WEIGHT * (1.0 if candidate.type_ok else 0.0)
        + CONTEXT_WEIGHT * min(1.0, len(statements) / 2),
        4,
    )


def suggest_links(
    data: DataGraph,
    client: WikidataClient,
    *,
    kinds: Iterable[str] = SUGGESTABLE_TYPES,
    languages: Iterable[str] = DEFAULT_LANGUAGES,
    batch_size: int = 25,
    limit: int = CANDIDATES_PER_ENTITY,
) -> list[Suggestion]:
    records = data.records()
    links = linked_items(records)
    unlinked = [entity for entity in data.entities(kinds) if entity not in links]
    names = {entity: data.names(entity) for entity in unlinked}
    rows = [row for entity in unlinked for row in lookup_rows(entity, names[entity], languages)]

    found: dict[str, dict[str, Candidate]] = defaultdict(dict)
    for batch in batched(rows, LOOKUP_ROWS_PER_QUERY):
        for row in client.select(queries.label_lookup(batch)):
            item = row["item"].value
            if row["item"].kind != "uri" or not WIKIDATA_ITEM_PATTERN.match(item):
                continue
            candidate = found[row["key"].value].setdefault(item, Candidate(item))
            text = row["text"]
            candidate.matched.add((row["how"].value, text.language or "", text.value))

    by_item: dict[str, list[Candidate]] = defaultdict(list)
    for candidates in found.values():
        for candidate in candidates.values():
            by_item[candidate.item].append(candidate)
    items = sorted(by_item, key=lambda iri: int(qid_of(iri)[1:]))
    for batch in batched(items, batch_size):
        for row in client.select(queries.candidate_details(batch)):
            prop, value = row["property"].value, row["value"].value
            for candidate in by_item[row["item"].value]:
                if prop == "label":
                    candidate.label = value
                elif prop == "description":
                    candidate.description = value
                elif prop == "P31":
                    candidate.classes.add(value)
                else:
                    candidate.context[prop].add(value)
        for row in client.select(queries.item_types(batch, all_expected_iris())):
            for candidate in by_item[row["item"].value]:
                candidate.types.add(row["type"].value)

    suggestions: list[Suggestion] = []
    for entity in unlinked:
        kind = (split_thing_iri(entity) or ("", ""))[0]
        context = _context_items(data, entity, links)
        candidates = list(found.get(entity, {}).values())
        for candidate in candidates:
            _score(candidate, names[entity], kind, context)
            candidate.linked_from = sorted(
                e for e, items in links.items() if candidate.item in items
            )
        candidates.sort(key=lambda c: (-c.score, int(c.qid[1:])))
        suggestions.append(Suggestion(entity, kind, names[entity], candidates[:limit]))
    return suggestions


REVIEW_COLUMNS = (
    "entity",
    "type",
    "name",
    "rank",
    "qid",
    "candidate_label",
    "candidate_description",
    "score",
    "name_score",
    "type_plausible",
    "context",
    "matched",
    "linked_from",
    "accept",
)


def write_review_file(
    suggestions: list[Suggestion], path: Path, *, short: Callable[[str], str]
) -> int:
    """Write the TSV review file; returns the number of candidate rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(REVIEW_COLUMNS)
        for suggestion in suggestions:
            entity = short(suggestion.entity)
            name = suggestion.names[0].text if suggestion.names else ""
            if not suggestion.candidates:
                writer.writerow([entity, suggestion.kind, name, 0, *[""] * 10])
            for rank, candidate in enumerate(suggestion.candidates, start=1):
                count += 1
                _, language, seen = min(candidate.matched, key=lambda m: (m[0] != "label", m))
                writer.writerow(
                    [
                        entity,
                        suggestion.kind,
                        name,
                        rank,
                        candidate.qid,
                        candidate.label,
                        candidate.description,
                        f"{candidate.score:.3f}",
                        f"{candidate.name_score:.3f}",
                        "" if candidate.type_ok is None else str(candidate.type_ok).lower(),
                        " ".join(candidate.context_matches),
                        " | ".join(
                            f"{how}@{tag}:{text}" for how, tag, text in sorted(candidate.matched)
                        ),
                        " ".join(short(e) for e in candidate.linked_from),
                        f"engagements links accept {entity} {candidate.qid} "
                        f"--label-seen {shlex.quote(seen)} --language {shlex.quote(language)} "
                        "--evidence ''",  # for the reviewer to fill in: refused while empty
                    ]
                )
    return count
