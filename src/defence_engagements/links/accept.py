"""Write a reviewed link into ``data/wikidata-links.ttl``, in the file's own style.

The record is appended (nothing else in the file changes), with the prefixes the
file already declares, and the whole file is parsed again before it replaces the
old one, so a failed accept never leaves broken Turtle behind.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph

from defence_engagements.errors import ConfigurationError, DataError
from defence_engagements.links.records import LINKS_FILE, DataGraph, LinkRecord, Name, load_data
from defence_engagements.namespaces import (
    DEX,
    PREFIXES,
    WIKIDATA_ENTITY,
    WIKIDATA_ITEM_PATTERN,
    split_thing_iri,
    thing_iri,
)

QID_PATTERN = re.compile(r"^(?:wd:|http://www\.wikidata\.org/entity/)?(Q[1-9][0-9]*)$")
LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{1,8}(?:-[a-zA-Z0-9]{1,8})*$")
_SIMPLE_LOCAL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?$")
_ESCAPABLE_LOCAL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_/-]*$")

HEADER_PREFIXES = ("dex", "de", "wd", "xsd")


@dataclass(frozen=True)
class AcceptedLink:
    entity: str
    record: str
    item: str
    path: Path
    text: str  # the Turtle appended


def parse_qid(text: str) -> str:
    match = QID_PATTERN.match(text.strip())
    if not match:
        raise ConfigurationError(f"{text!r} is not a Wikidata item id (Q followed by digits)")
    return match.group(1)


def resolve_entity(text: str, base: str) -> str:
    """``person/x``, ``de:person/x``, ``/id/person/x`` or the full IRI → the canonical IRI."""
    text = text.strip().strip("<>")
    for prefix in (base + "id/", "de:", "/id/", "id/"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    kind, _, slug = text.partition("/")
    iri = thing_iri(kind, slug, base)
    if not kind or not slug or split_thing_iri(iri, base) is None:
        raise ConfigurationError(f"{text!r} is not one of our entities (expected TYPE/SLUG)")
    return iri


class TurtleWriter:
    """Terms written with the prefixes a Turtle file declares, full IRIs otherwise."""

    def __init__(self, prefixes: dict[str, str]) -> None:
        # Longest namespace first, so `person:x` wins over `de:person\/x`.
        self.prefixes = sorted(prefixes.items(), key=lambda p: -len(p[1]))

    def iri(self, iri: str) -> str:
        for escaped in (False, True):
            for name, namespace in self.prefixes:
                local = iri[len(namespace) :] if iri.startswith(namespace) else None
                if not local:
                    continue
                if not escaped and _SIMPLE_LOCAL.match(local):
                    return f"{name}:{local}"
                if escaped and _ESCAPABLE_LOCAL.match(local) and not local.endswith("/"):
                    return f"{name}:{local.replace('/', chr(92) + '/')}"
        return f"<{iri}>"

    def literal(self, literal: pyoxigraph.Literal) -> str:
        lexical = str(pyoxigraph.Literal(literal.value))
        if literal.language:
            return f"{lexical}@{literal.language}"
        datatype = literal.datatype.value
        if datatype == PREFIXES["xsd"] + "string":
            return lexical
        return f"{lexical}^^{self.iri(datatype)}"


def _file_prefixes(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    parser = pyoxigraph.parse(path=path, format=pyoxigraph.RdfFormat.TURTLE)
    for _ in parser:
        pass
    return dict(parser.prefixes)


def _refuse_duplicates(
    data: DataGraph, entity: str, item: str, base_records: list[LinkRecord]
) -> None:
    for record in base_records:
        if record.entity == entity:
            raise DataError(
                f"{entity} is already linked to {record.qid} ({record.record}); "
                "edit or remove that record first"
            )
        if record.item == item:
            raise DataError(f"{record.qid} is already linked from {record.entity}")
    if not data.describes(entity):
        raise DataError(f"{entity} is not described anywhere in data/; check the name")


def accept_link(
    data_path: Path,
    entity_text: str,
    qid_text: str,
    *,
    base: str,
    label_seen: str | None = None,
    language: str | None = None,
    evidence: str | None = None,
    verified_on: dt.date | None = None,
    verify: Callable[[DataGraph, LinkRecord], list[str]] | None = None,
) -> AcceptedLink:
    """Append one link record; ``verify`` (if given) names problems that refuse it."""
    qid = parse_qid(qid_text)
    item = WIKIDATA_ENTITY + qid
    assert WIKIDATA_ITEM_PATTERN.match(item)
    entity = resolve_entity(entity_text, base)
    if language is not None and not LANGUAGE_TAG.match(language):
        raise ConfigurationError(f"{language!r} is not a language tag")
    data = load_data(data_path)
    _refuse_duplicates(data, entity, item, data.records())

    kind, slug = split_thing_iri(entity, base) or ("", "")
    record = thing_iri("wikidata-link", f"{kind}-{slug}", base)
    if data.describes(record):
        raise DataError(f"{record} already exists in data/")
    names = data.names(entity)
    if label_seen is None:
        if not names:
            raise ConfigurationError(f"{entity} has no name in data/; give --label-seen")
        label_seen, language = names[0].text, language or names[0].language
    if evidence is None or not evidence.strip():
        # A link is published only with evidence (shapes/wikidata-links.ttl checks that
        # there is some; what it says is for the person who found it to write).
        raise ConfigurationError(
            f"give --evidence: where {qid} was seen paired with {entity} "
            "(a source document, an official page, the item's own identifiers)"
        )
    day = verified_on or dt.datetime.now(dt.UTC).date()
    if verify is not None:
        prospective = LinkRecord(
            entity=entity,
            record=record,
            item=item,
            label_seen=Name(label_seen, language or "en"),
            verified_on=day.isoformat(),
            evidence=(evidence,),
        )
        problems = verify(data, prospective)
        if problems:
            raise DataError(f"not linked: {qid} fails verification", detail="\n".join(problems))
    path = data_path / LINKS_FILE
    prefixes = _file_prefixes(path)
    if not prefixes:
        prefixes = {name: PREFIXES[name] for name in HEADER_PREFIXES}
    write = TurtleWriter(prefixes)
    seen = pyoxigraph.Literal(label_seen, language=language or "en")
    date = pyoxigraph.Literal(
        day.isoformat(), datatype=pyoxigraph.NamedNode(PREFIXES["xsd"] + "date")
    )
    # Records carry a label of their own, so pages and query results can name them.
    own_name = next((n.text for n in names if n.language in (None, "en")), label_seen)
    title = pyoxigraph.Literal(f"Wikidata link: {own_name}", language="en")
    block = (
        f"{write.iri(entity)} {write.iri(DEX + 'wikidataLink')} {write.iri(record)} .\n"
        f"{write.iri(record)} a {write.iri(DEX + 'WikidataLink')} ;\n"
        f"    {write.iri(PREFIXES['rdfs'] + 'label')} {write.literal(title)} ;\n"
        f"    {write.iri(DEX + 'wikidataItem')} {write.iri(item)} ;\n"
        f"    {write.iri(DEX + 'labelSeen')} {write.literal(seen)} ;\n"
        f"    {write.iri(DEX + 'verifiedOn')} {write.literal(date)} ;\n"
        f"    {write.iri(DEX + 'evidence')} {write.literal(pyoxigraph.Literal(evidence))} .\n"
    )
    if path.exists():
        old = path.read_text(encoding="utf-8")
        text = old + ("" if old.endswith("\n") else "\n") + "\n" + block
    else:
        header = "".join(f"@prefix {name}: <{ns}> .\n" for name, ns in prefixes.items())
        text = (
            '# Wikidata link records: see docs/ARCHITECTURE.md, "Wikidata links".\n'
            + header
            + "\n"
            + block
        )
    _replace_checked(path, text)
    return AcceptedLink(entity=entity, record=record, item=item, path=path, text=block)


def _replace_checked(path: Path, text: str) -> None:
    try:
        graph = list(pyoxigraph.parse(text.encode("utf-8"), format=pyoxigraph.RdfFormat.TURTLE))
    except SyntaxError as exc:  # a bug here, never the user's data: keep the old file
        raise DataError(f"{path}: the new record would not parse ({exc}); nothing written") from exc
    assert graph
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".wikidata-links.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, path)
