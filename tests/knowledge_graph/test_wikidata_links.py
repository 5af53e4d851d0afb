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


@pytest.mark.skipif(not DATA_NOTES.is_file(), reason="../shared is not beside this checkout")
def test_every_link_is_evidenced_in_data_notes_or_in_the_data(data_graph: rdflib.Graph) -> None:
    evidenced = evidenced_wikidata_ids(DATA_NOTES.read_text(encoding="utf-8"))
    assert evidenced["Q5530859"] == "Gen Nakatani" and len(evidenced) == 34
    for record, item in link_records(data_graph).items():
        qid = str(item).removeprefix(WIKIDATA_ENTITY)
        evidence = str(data_graph.value(record, DEX.evidence))
        if qid in evidenced:
            # the record says where it was evidenced, with the label that was seen there
            assert str(data_graph.value(record, DEX.labelSeen)) == evidenced[qid], record
            assert "DATA-NOTES" in evidence
        else:
            pytest.fail(f"{record}: {qid} is not in DATA-NOTES; its evidence: {evidence!r}")


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
