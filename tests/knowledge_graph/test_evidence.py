"""The evidence archive: texts equal the shared sources, quotes occur in them verbatim."""

from __future__ import annotations

import hashlib

import pytest
import rdflib

from .support import ARCHIVE_DIR, DEX, OA, SHARED

SHARED_SOURCES = SHARED / "sources"


@pytest.mark.skipif(not SHARED_SOURCES.is_dir(), reason="../shared is not beside this checkout")
def test_archived_texts_equal_the_shared_sources_byte_for_byte() -> None:
    shared = {p.name: p.read_bytes() for p in SHARED_SOURCES.glob("*.txt")}
    archived = {p.name: p.read_bytes() for p in ARCHIVE_DIR.glob("*.txt")}
    assert archived.keys() == shared.keys()
    for name, content in shared.items():
        assert archived[name] == content, name


def test_every_source_points_at_its_archived_text_with_the_right_digest(
    data_graph: rdflib.Graph,
) -> None:
    sources = set(data_graph.subjects(rdflib.RDF.type, DEX.SourceDocument))
    assert len(sources) == 5
    seen = set()
    for source in sources:
        text = data_graph.value(source, DEX.archivedText)
        name = str(data_graph.value(text, DEX.archivedFileName))
        assert str(text).endswith("/archive/" + name)
        digest = hashlib.sha256((ARCHIVE_DIR / name).read_bytes()).hexdigest()
        assert str(data_graph.value(text, DEX.sha256)) == digest, name
        seen.add(name)
    assert seen == {p.name for p in ARCHIVE_DIR.glob("*.txt")}


def test_every_quote_occurs_verbatim_in_its_archived_source(data_graph: rdflib.Graph) -> None:
    quotes = list(data_graph.subject_objects(OA.exact))
    assert len(quotes) > 40
    for quote, exact in quotes:
        source = data_graph.value(quote, DEX.quotedFrom)
        name = str(
            data_graph.value(data_graph.value(source, DEX.archivedText), DEX.archivedFileName)
        )
        text = (ARCHIVE_DIR / name).read_text(encoding="utf-8")
        assert str(exact) in text, f"{quote} is not verbatim in {name}"


def test_the_verbatim_check_compares_exact_characters(data_graph: rdflib.Graph) -> None:
    """Source 000 writes USEUCOM‘s with U+2018: an ASCII apostrophe must not match."""
    text = (ARCHIVE_DIR / "000_679d973573410bfa.txt").read_text(encoding="utf-8")
    exacts = [str(exact) for exact in data_graph.objects(None, OA.exact)]
    quote = next(exact for exact in exacts if "USEUCOM\u2018s headquarters" in exact)
    assert quote in text
    assert quote.replace("\u2018", "'") not in text


def test_every_engagement_quotes_each_of_its_sources(data_graph: rdflib.Graph) -> None:
    for engagement in data_graph.subjects(rdflib.RDF.type, None):
        if "/id/engagement/" not in str(engagement):
            continue
        sources = set(data_graph.objects(engagement, rdflib.PROV.wasDerivedFrom))
        quoted = {
            data_graph.value(q, DEX.quotedFrom)
            for q in data_graph.objects(engagement, DEX.evidenceQuote)
        }
        assert sources and sources <= quoted, engagement


def test_everything_but_reference_geography_names_its_source(data_graph: rdflib.Graph) -> None:
    """Engagements, people, posts, organisations, cities and facilities come from a source;
    only countries and continents are reference data."""
    kinds = (DEX.Engagement, DEX.Person, DEX.PostHolding, DEX.Organization, DEX.City, DEX.Facility)
    engagement_classes = {
        DEX.Meeting, DEX.Summit, DEX.Visit, DEX.Conference, DEX.AgreementSigning,
        DEX.Announcement, DEX.Dialogue,
    }  # fmt: skip
    checked = 0
    for kind in (*kinds, *engagement_classes):
        for entity in data_graph.subjects(rdflib.RDF.type, kind):
            sources = set(data_graph.objects(entity, rdflib.PROV.wasDerivedFrom))
            assert sources, f"{entity} names no source"
            for source in sources:
                assert (source, rdflib.RDF.type, DEX.SourceDocument) in data_graph
            checked += 1
    assert checked > 60
