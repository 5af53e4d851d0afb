"""SHACL: the data conforms; every broken fixture fails with the expected shape and message."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyshacl
import pytest
import rdflib
from rdflib import RDF, RDFS, URIRef

from .support import DATA_DIR, DESH, ID, INVALID_FIXTURES, SH, parse, turtle_files

E = ID + "engagement/"


@dataclass(frozen=True)
class Result:
    severity: str
    focus: str
    constraint: str  # the named constraint: sh:sourceConstraint (SPARQL) or sh:sourceShape
    message: str


def validate(data: rdflib.Graph, shapes: rdflib.Graph, **options: object) -> list[Result]:
    _, report, _ = pyshacl.validate(
        data, shacl_graph=shapes, inference="none", advanced=True, **options
    )
    results = []
    for node in report.subjects(RDF.type, SH.ValidationResult):
        constraint = report.value(node, SH.sourceConstraint) or report.value(node, SH.sourceShape)
        results.append(
            Result(
                severity=str(report.value(node, SH.resultSeverity)).rsplit("#", 1)[1],
                focus=str(report.value(node, SH.focusNode)),
                constraint=str(constraint).removeprefix(str(DESH)),
                message=" | ".join(sorted(str(m) for m in report.objects(node, SH.resultMessage))),
            )
        )
    return results


def with_context(graph: rdflib.Graph, ontology: rdflib.Graph, data: rdflib.Graph) -> rdflib.Graph:
    """One file plus what per-file validation gets: the class hierarchy and the rdf:type of every
    IRI the file mentions (from the whole data). Only results about the file's own subjects
    count (see :func:`own_results`)."""
    context = rdflib.Graph()
    for triple in graph:
        context.add(triple)
    for triple in ontology.triples((None, RDFS.subClassOf, None)):
        context.add(triple)
    mentioned = {t for triple in graph for t in triple if isinstance(t, URIRef)}
    for iri in mentioned:
        for cls in data.objects(iri, RDF.type):
            context.add((iri, RDF.type, cls))
    return context


def own_results(results: list[Result], graph: rdflib.Graph) -> list[Result]:
    """Results whose focus node the file itself defines: referenced nodes travel with their
    types only, so shapes targeting them by class would report their missing properties."""
    owned = {str(s) for s in graph.subjects()}
    return [r for r in results if r.focus in owned]


EXPECTED_WARNINGS = {
    (E + "usfj-joint-force-headquarters-announcement", "EngagementDateMissingShape-start"),
    (E + "2024-04-biden-kishida-summit", "EngagementReviewShape-location"),
    (E + "2025-japan-lithuania-military-to-military-dialogue", "EngagementReviewShape-location"),
    (E + "2009-10-gates-visit-to-japan", "EngagementReviewShape-topic"),
    (E + "2009-10-gates-visit-to-japan", "EngagementReviewShape-posts"),
}


def test_data_conforms_to_the_shapes_with_the_ontology_as_ont_graph(
    data_graph: rdflib.Graph, shapes_graph: rdflib.Graph, ontology_graph: rdflib.Graph
) -> None:
    results = validate(data_graph, shapes_graph, ont_graph=ontology_graph)
    violations = [r for r in results if r.severity == "Violation"]
    assert violations == []
    # The sources leave these gaps (001 gives no date, 001/004 no place for the summit and
    # the dialogue, 003 no subject or post for 2009): flagged for a person, not hidden.
    assert {(r.focus, r.constraint) for r in results} == EXPECTED_WARNINGS
    assert {r.severity for r in results} == {"Warning"}


@pytest.mark.parametrize("path", turtle_files(DATA_DIR), ids=lambda p: str(p.relative_to(DATA_DIR)))
def test_each_data_file_conforms_on_its_own(
    path: Path,
    data_graph: rdflib.Graph,
    shapes_graph: rdflib.Graph,
    ontology_graph: rdflib.Graph,
) -> None:
    """How the build validates: one file plus the types of what it references."""
    graph = parse([path])
    results = own_results(
        validate(with_context(graph, ontology_graph, data_graph), shapes_graph), graph
    )
    assert [r for r in results if r.severity == "Violation"] == []
    assert {(r.focus, r.constraint) for r in results} <= EXPECTED_WARNINGS


# fixture file → (the constraints it violates, a phrase of the message that says what to fix)
INVALID = {
    "wrong-date-datatype": ({"EngagementDateDatatypeShape-start"}, "xsd:gYearMonth or xsd:gYear"),
    "datetime-instead-of-date": ({"EngagementDateDatatypeShape-start"}, "typed xsd:date"),
    "start-after-end": ({"EngagementDateOrderShape-order"}, "on or after dex:startDate"),
    "end-without-start": ({"EngagementDateOrderShape-order"}, "only given with a start date"),
    "precision-mismatch": ({"EngagementDatePrecisionShape-matches"}, "time:unitMonth for"),
    "missing-precision": ({"EngagementDatePrecisionShape-matches"}, "must match the dates"),
    "host-is-guest": ({"EngagementHostGuestShape-disjoint"}, "both dex:host and dex:guest"),
    "no-participant": ({"EngagementParticipantsShape-some"}, "has no participant"),
    "place-as-host": ({"EngagementParticipantsShape-host"}, "dex:host must be a dex:Person"),
    "no-source": ({"EngagementSourceShape-derivedFrom"}, "Add prov:wasDerivedFrom"),
    "no-quote": ({"EngagementEvidenceShape-quote"}, "Add dex:evidenceQuote"),
    "empty-quote": ({"QuoteShape-exact"}, "non-empty oa:exact"),
    "blank-quote": ({"QuoteShape-exact"}, "non-empty oa:exact"),
    "language-tagged-quote": ({"QuoteShape-exact"}, "no language tag"),
    "unknown-engagement-type": ({"EngagementTypeShape-engagementType"}, "CAMEO-coded concepts"),
    "plover-group-as-type": ({"EngagementTypeShape-engagementType"}, "CAMEO-coded concepts"),
    "no-engagement-type": ({"EngagementTypeShape-engagementType"}, "engagement-type scheme"),
    "unknown-status": ({"EngagementStatusShape-status"}, "dex:StatusHeld"),
    "bad-engagement-slug": ({"EngagementShape"}, "…/id/engagement/{slug}"),
    "unknown-topic": ({"EngagementShape-topicClass"}, "topic scheme"),
    "malformed-wikidata-iri": ({"WikidataLinkShape-item"}, "http://www.wikidata.org/entity/Q123"),
    "wikidata-link-without-evidence": ({"WikidataLinkShape-evidence"}, "dex:evidence"),
    "wikidata-item-as-link": (
        {"WikidataLinkUsageShape-target", "PlaceShape-link"},
        "put the Wikidata IRI in that record's dex:wikidataItem",
    ),
    "country-slug-mismatch": ({"CountryShape-codeMatchesSlug"}, "ISO"),
    "two-preferred-claims": (
        {"ClaimShape-onePreferred", "ClaimShape-preferredFollowed"},
        "mark only one dex:preferred true",
    ),
    "preferred-claim-not-followed": ({"ClaimShape-preferredFollowed"}, "preferred value"),
    "post-without-holder": ({"PostHoldingShape-holder"}, "exactly one dex:holder"),
    "two-end-dates": ({"EngagementDateDatatypeShape-end"}, "dex:endDate must be one value"),
    "wrong-end-date-datatype": (
        {"EngagementDateDatatypeShape-end", "EngagementDateOrderShape-order"},
        "dex:endDate must be one value typed xsd:date",
    ),
    "place-as-guest": ({"EngagementParticipantsShape-guest"}, "dex:guest must be a dex:Person"),
    "place-as-organiser": (
        {"EngagementParticipantsShape-organiser"},
        "dex:organiser must be a dex:Person",
    ),
    "source-as-signatory": (
        {"EngagementParticipantsShape-signatory"},
        "dex:signatory must be a dex:Person",
    ),
    "person-as-participant-post": (
        {"EngagementShape-participantPost"},
        "must point at a dex:PostHolding",
    ),
    "person-as-location": ({"EngagementShape-location"}, "dex:location must be a dex:Place"),
    "claim-without-about": ({"ClaimShape-about"}, "one dex:claimAbout"),
    "claim-without-property": ({"ClaimShape-property"}, "one dex:claimedProperty"),
    "claim-reason-without-language": ({"ClaimShape-reason"}, "dex:reason (with a language tag)"),
    "claim-without-quote": ({"ClaimShape-quote"}, "at least one dex:evidenceQuote"),
    "claim-without-source": ({"ClaimShape-source"}, "prov:wasDerivedFrom pointing at its"),
    "quote-without-source": ({"QuoteShape-quotedFrom"}, "with dex:quotedFrom"),
    "source-without-title": ({"SourceDocumentShape-title"}, "exactly one dcterms:title"),
    "source-without-archived-text": (
        {"SourceDocumentShape-archivedText"},
        "Point the source at its archived text",
    ),
    "archived-text-bad-sha256": ({"ArchivedTextShape-sha256"}, "lower-case hex SHA-256"),
    "person-label-without-language": ({"PersonShape-label"}, "rdfs:label with a language tag"),
    "place-as-parent-organization": (
        {"OrganizationShape-parent"},
        "dex:subOrganizationOf must point at a dex:Organization",
    ),
    "place-as-organization-country": ({"OrganizationShape-country"}, "at most one dex:Country"),
    "place-contained-in-person": ({"PlaceShape-container"}, "dex:containedInPlace must point"),
    "post-title-without-language": ({"PostHoldingShape-title"}, "post's title"),
    "post-rank-language-tagged": ({"PostHoldingShape-rank"}, "dex:rank is at most one plain"),
    "post-in-place": ({"PostHoldingShape-postIn"}, "dex:postIn is at most one dex:Organization"),
    "post-without-country": ({"PostHoldingShape-country"}, "Give the post one dex:country"),
    "wikidata-link-without-label-seen": ({"WikidataLinkShape-labelSeen"}, "dex:labelSeen"),
    "wikidata-link-verified-on-not-a-date": (
        {"WikidataLinkShape-verifiedOn"},
        "dex:verifiedOn (one xsd:date)",
    ),
}


def test_every_fixture_is_in_the_table() -> None:
    on_disk = {p.stem for p in INVALID_FIXTURES.glob("*.ttl")} - {"no-location-warning"}
    assert on_disk == INVALID.keys()


@pytest.fixture(scope="module")
def fixture_results(
    data_graph: rdflib.Graph, shapes_graph: rdflib.Graph, ontology_graph: rdflib.Graph
) -> dict[str, list[Result]]:
    """All fixtures validated in one pyshacl run (their IRIs are disjoint), results grouped
    by the fixture file that defines the focus node."""
    fixtures = {p.stem: parse([p]) for p in sorted(INVALID_FIXTURES.glob("*.ttl"))}
    combined = rdflib.Graph()
    for graph in fixtures.values():
        for triple in graph:
            combined.add(triple)
    results = validate(with_context(combined, ontology_graph, data_graph), shapes_graph)
    return {name: own_results(results, graph) for name, graph in fixtures.items()}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_broken_fixture_fails_with_the_expected_shape_and_message(
    name: str, fixture_results: dict[str, list[Result]], shapes_graph: rdflib.Graph
) -> None:
    constraints, phrase = INVALID[name]
    violations = [r for r in fixture_results[name] if r.severity == "Violation"]
    assert {r.constraint for r in violations} == constraints
    assert any(phrase in r.message for r in violations), [r.message for r in violations]
    for violation in violations:
        declared = {str(m) for m in shapes_graph.objects(DESH[violation.constraint], SH.message)}
        assert declared & set(violation.message.split(" | ")), "the constraint's own message"


def test_missing_location_is_a_warning_not_a_violation(
    fixture_results: dict[str, list[Result]],
) -> None:
    results = fixture_results["no-location-warning"]
    assert [(r.severity, r.constraint) for r in results] == [
        ("Warning", "EngagementReviewShape-location")
    ]


def test_every_shape_says_what_to_fix(shapes_graph: rdflib.Graph) -> None:
    shapes = {
        s
        for kind in (SH.NodeShape, SH.PropertyShape, SH.SPARQLConstraint)
        for s in shapes_graph.subjects(RDF.type, kind)
    }
    assert len(shapes) > 80
    for shape in shapes:
        if shape in (DESH.IsDate, DESH.IsGYearMonth, DESH.IsGYear):
            continue  # members of desh:DayMonthOrYear's sh:or, whose message covers them
        messages = list(shapes_graph.objects(shape, SH.message))
        assert messages, f"{shape} has no sh:message"
