"""Wikidata links: only evidenced identifiers, each in the link-record model of ARCHITECTURE.md."""

from __future__ import annotations

import pytest
import rdflib
from rdflib import RDF, URIRef

from defence_engagements.namespaces import WIKIDATA_ENTITY, WIKIDATA_ITEM_PATTERN

from .support import DEX, ID, SHARED, evidenced_wikidata_ids

DATA_NOTES = SHARED / "DATA-NOTES.md"


def link_records(data: rdflib.Graph) -> dict[URIRef, URIRef]:
    return {
        record: data.value(record, DEX.wikidataItem)
        for record in data.subjects(RDF.type, DEX.WikidataLink)
    }


def test_parser_reads_the_data_notes_table() -> None:
    table = "| Japan / Lithuania | Q17 / Q37 |\n| Joe Biden | Q6279 |\n"
    notes = f"## Wikidata items with public evidence\n\n| Entity | Wikidata |\n{table}\n## Next"
    assert evidenced_wikidata_ids(notes) == {
        "Q17": "Japan",
        "Q37": "Lithuania",
        "Q6279": "Joe Biden",
    }


def test_every_link_record_is_well_formed_and_used_once(data_graph: rdflib.Graph) -> None:
    records = link_records(data_graph)
    assert len(records) == 32
    for record, item in records.items():
        assert WIKIDATA_ITEM_PATTERN.match(str(item)), item
        assert data_graph.value(record, DEX.evidence) is not None
        assert data_graph.value(record, DEX.labelSeen) is not None
        owners = list(data_graph.subjects(DEX.wikidataLink, record))
        assert len(owners) == 1, record
        # …/id/wikidata-link/{type}-{slug} names the entity it links
        kind, slug = str(owners[0]).removeprefix(ID).split("/")
        assert str(record) == f"{ID}wikidata-link/{kind}-{slug}"
    items = list(records.values())
    assert len(items) == len(set(items)), "one Wikidata item per entity"


def evidence_problem(data: rdflib.Graph, record: URIRef, evidenced: dict[str, str]) -> str | None:
    """Why a link record is not evidenced, or None.

    An identifier listed in DATA-NOTES is evidenced there: the record cites it, with the
    label listed. Any other identifier is accepted only when its own evidence is recorded in
    the data: a non-blank dex:evidence saying where the pairing was verified (not claiming a
    DATA-NOTES listing it does not have), the label seen and the day it was verified.
    """
    qid = str(data.value(record, DEX.wikidataItem)).removeprefix(WIKIDATA_ENTITY)
    evidence = " ".join(str(data.value(record, DEX.evidence) or "").split())
    label_seen = data.value(record, DEX.labelSeen)
    if qid in evidenced:
        if str(label_seen) != evidenced[qid]:
            return f"{qid}: label seen {label_seen!r}, DATA-NOTES lists {evidenced[qid]!r}"
        if "DATA-NOTES" not in evidence:
            return f"{qid} is in DATA-NOTES but the record does not say so: {evidence!r}"
        return None
    if not evidence:
        return f"{qid} is not in DATA-NOTES and the record gives no dex:evidence"
    if "DATA-NOTES" in evidence:
        return f"{qid} is not in DATA-NOTES, yet its evidence cites it: {evidence!r}"
    missing = [
        name
        for name, prop in (("dex:labelSeen", DEX.labelSeen), ("dex:verifiedOn", DEX.verifiedOn))
        if data.value(record, prop) is None
    ]
    if missing:
        return f"{qid} is not in DATA-NOTES and its record has no {', '.join(missing)}"
    return None


@pytest.mark.skipif(not DATA_NOTES.is_file(), reason="../shared is not beside this checkout")
def test_every_link_is_evidenced_in_data_notes_or_in_the_data(data_graph: rdflib.Graph) -> None:
    evidenced = evidenced_wikidata_ids(DATA_NOTES.read_text(encoding="utf-8"))
    assert evidenced["Q5530859"] == "Gen Nakatani" and len(evidenced) == 34
    records = link_records(data_graph)
    assert records
    problems = [evidence_problem(data_graph, record, evidenced) for record in records]
    assert [p for p in problems if p] == []


LINK = rdflib.Namespace(ID + "wikidata-link/")
VERIFIED = rdflib.Literal("2026-11-22", datatype=rdflib.XSD.date)


def _record(graph: rdflib.Graph, name: str, qid: str, **values: rdflib.Literal) -> URIRef:
    record = LINK[name]
    graph.add((record, RDF.type, DEX.WikidataLink))
    graph.add((record, DEX.wikidataItem, URIRef(WIKIDATA_ENTITY + qid)))
    for prop, value in values.items():
        graph.add((record, DEX[prop], value))
    return record


@pytest.mark.parametrize(
    ("qid", "values", "accepted"),
    [
        # Listed in DATA-NOTES (the in-test table below): evidenced there.
        ("Q17", {"labelSeen": "Japan", "evidence": "Listed in DATA-NOTES.md (Japan / Q17)."}, True),
        ("Q17", {"labelSeen": "Nippon", "evidence": "Listed in DATA-NOTES.md (Q17)."}, False),
        ("Q17", {"labelSeen": "Japan", "evidence": "Seen on the item."}, False),
        # Not listed: accepted if and only if the data records its evidence.
        (
            "Q99990030",
            {
                "labelSeen": "JGSDF",
                "verifiedOn": VERIFIED,
                "evidence": "Paired with 'JGSDF' on the ministry's English site, checked by hand.",
            },
            True,
        ),
        ("Q99990030", {"labelSeen": "JGSDF", "verifiedOn": VERIFIED}, False),
        ("Q99990030", {"labelSeen": "JGSDF", "verifiedOn": VERIFIED, "evidence": "  "}, False),
        (
            "Q99990030",
            {"labelSeen": "JGSDF", "verifiedOn": VERIFIED, "evidence": "Listed in DATA-NOTES.md."},
            False,
        ),
        ("Q99990030", {"labelSeen": "JGSDF", "evidence": "Paired on the ministry's site."}, False),
        (
            "Q99990030",
            {"verifiedOn": VERIFIED, "evidence": "Paired on the ministry's site."},
            False,
        ),
    ],
    ids=[
        "listed",
        "listed-other-label",
        "listed-not-cited",
        "unlisted-with-evidence",
        "unlisted-no-evidence",
        "unlisted-blank-evidence",
        "unlisted-false-data-notes-claim",
        "unlisted-not-verified",
        "unlisted-no-label-seen",
    ],
)
def test_an_identifier_outside_data_notes_needs_evidence_in_the_data(
    qid: str, values: dict[str, object], accepted: bool
) -> None:
    evidenced = evidenced_wikidata_ids(
        "## Wikidata items with public evidence\n\n| Entity | Wikidata |\n|---|---|\n"
        "| Japan / Lithuania | Q17 / Q37 |\n"
    )
    graph = rdflib.Graph()
    literals = {
        k: v if isinstance(v, rdflib.Literal) else rdflib.Literal(v) for k, v in values.items()
    }
    record = _record(graph, "fixture", qid, **literals)
    problem = evidence_problem(graph, record, evidenced)
    assert (problem is None) == accepted, problem
    if not accepted:
        assert qid in str(problem)


@pytest.mark.skipif(not DATA_NOTES.is_file(), reason="../shared is not beside this checkout")
def test_entities_listed_as_not_evidenced_stay_unlinked(data_graph: rdflib.Graph) -> None:
    unlinked = [
        "person/lloyd-austin", "person/robert-m-gates", "person/christopher-cavoli",
        "person/samuel-paparo", "person/toshimi-kitazawa", "person/dovile-sakaliene",
        "person/daniel-lasica", "person/nobutaka-minamikawa", "person/james-b-wellons",
        "person/james-l-schoff", "organization/us-european-command",
        "organization/us-indo-pacific-command", "organization/us-forces-japan",
        "place/yokota-air-base", "organization/japan-ministry-of-defense",
        "organization/japan-joint-staff", "organization/japan-self-defense-forces",
        "organization/sasakawa-peace-foundation-usa",
        "organization/lithuania-ministry-of-national-defence",
    ]  # fmt: skip
    for entity in unlinked:
        assert (URIRef(ID + entity), RDF.type, None) in data_graph, entity
        assert data_graph.value(URIRef(ID + entity), DEX.wikidataLink) is None, entity
