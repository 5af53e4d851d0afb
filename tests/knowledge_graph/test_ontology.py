"""The ontology: documented, aligned, inside OWL 2 RL, and in step with data and shapes."""

from __future__ import annotations

import pytest
import rdflib
from rdflib import OWL, RDF, RDFS, SKOS, BNode, Literal, URIRef
from rdflib.namespace import DCTERMS

from .support import DATA_DIR, DESH, DEX, SH, SHAPES_DIR, parse

ONTOLOGY = URIRef("https://w3id.org/defence-engagements/def")
ENGAGEMENT_TYPES = URIRef("https://w3id.org/defence-engagements/id/scheme/engagement-types")
TOPICS = URIRef("https://w3id.org/defence-engagements/id/scheme/topics")
TERM_KINDS = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, RDFS.Datatype)


def dex_terms(ontology: rdflib.Graph) -> set[URIRef]:
    return {
        term
        for kind in TERM_KINDS
        for term in ontology.subjects(RDF.type, kind)
        if isinstance(term, URIRef) and str(term).startswith(str(DEX))
    }


def test_ontology_header(ontology_graph: rdflib.Graph) -> None:
    g = ontology_graph
    assert (ONTOLOGY, RDF.type, OWL.Ontology) in g
    assert g.value(ONTOLOGY, OWL.versionIRI) is not None
    assert g.value(ONTOLOGY, OWL.versionInfo) is not None
    for predicate in (
        DCTERMS.title,
        DCTERMS.description,
        DCTERMS.license,
        DCTERMS.creator,
        DCTERMS.created,
        DCTERMS.modified,
    ):
        assert g.value(ONTOLOGY, predicate) is not None, predicate


def test_every_term_has_an_english_label_and_comment(ontology_graph: rdflib.Graph) -> None:
    terms = dex_terms(ontology_graph)
    assert len(terms) > 60
    for term in terms:
        for predicate in (RDFS.label, RDFS.comment):
            english = [
                o
                for o in ontology_graph.objects(term, predicate)
                if isinstance(o, Literal) and o.language == "en"
            ]
            assert english, f"{term} has no English {predicate}"


def test_every_dex_term_used_in_data_and_shapes_is_declared(ontology_graph: rdflib.Graph) -> None:
    declared = dex_terms(ontology_graph) | set(
        ontology_graph.subjects(RDF.type, OWL.NamedIndividual)
    )
    used = set()
    for graph in (parse(DATA_DIR.rglob("*.ttl")), parse(SHAPES_DIR.rglob("*.ttl"))):
        for triple in graph:
            used |= {t for t in triple if isinstance(t, URIRef) and str(t).startswith(str(DEX))}
    assert used - declared == set()


@pytest.mark.parametrize(
    ("term", "external"),
    [
        (DEX.Engagement, URIRef("https://schema.org/Event")),
        (DEX.Organization, URIRef("http://www.w3.org/ns/org#Organization")),
        (DEX.Person, URIRef("http://xmlns.com/foaf/0.1/Person")),
        (DEX.SourceDocument, URIRef("http://www.w3.org/ns/prov#Entity")),
        (DEX.Quote, URIRef("http://www.w3.org/ns/oa#TextQuoteSelector")),
        (DEX.PostHolding, URIRef("http://www.w3.org/ns/org#Membership")),
        (DEX.EngagementType, SKOS.Concept),
        (DEX.containedInPlace, URIRef("https://schema.org/containedInPlace")),
        (DEX.withinOrganization, URIRef("http://www.w3.org/ns/org#transitiveSubOrganizationOf")),
        (DEX.quotedFrom, URIRef("http://www.w3.org/ns/prov#wasQuotedFrom")),
        (DEX.organiser, URIRef("https://schema.org/organizer")),
    ],
)
def test_alignment(ontology_graph: rdflib.Graph, term: URIRef, external: URIRef) -> None:
    assert (term, RDFS.subClassOf, external) in ontology_graph or (
        term,
        RDFS.subPropertyOf,
        external,
    ) in ontology_graph


def test_datePrecision_ranges_over_owl_time_units(ontology_graph: rdflib.Graph) -> None:
    assert ontology_graph.value(DEX.datePrecision, RDFS.range) == URIRef(
        "http://www.w3.org/2006/time#TemporalUnit"
    )


def test_reasoning_characteristics(ontology_graph: rdflib.Graph) -> None:
    g = ontology_graph
    for transitive in (
        DEX.containedInPlace,
        DEX.withinOrganization,
        DEX.subEventOf,
        DEX.precededBy,
    ):
        assert (transitive, RDF.type, OWL.TransitiveProperty) in g
    for role in (DEX.host, DEX.guest, DEX.organiser, DEX.signatory):
        assert (role, RDFS.subPropertyOf, DEX.participant) in g
        assert g.value(role, OWL.inverseOf) is not None
    assert (DEX.subEventOf, OWL.inverseOf, DEX.hasSubEvent) in g
    assert (DEX.followsUp, OWL.inverseOf, DEX.followedUpBy) in g
    assert (DEX.followsUp, RDFS.subPropertyOf, DEX.precededBy) in g


# Constructs outside OWL 2 RL wherever they appear in our schema (Profiles §4.2): the RL
# rules cannot use an existential, a union, a complement, a minimum or exact cardinality
# or hasSelf as a superclass or equivalent class, nor reflexive properties or disjoint unions.
OUTSIDE_RL = (
    OWL.someValuesFrom,
    OWL.unionOf,
    OWL.complementOf,
    OWL.minCardinality,
    OWL.cardinality,
    OWL.minQualifiedCardinality,
    OWL.qualifiedCardinality,
    OWL.hasSelf,
    OWL.disjointUnionOf,
    OWL.oneOf,
)


def test_ontology_stays_inside_the_owl2_rl_profile(ontology_graph: rdflib.Graph) -> None:
    g = ontology_graph
    assert not [t for t in g if t[1] in OUTSIDE_RL], "construct outside OWL 2 RL"
    assert not list(g.subjects(RDF.type, OWL.ReflexiveProperty))
    # Superclass and equivalence positions hold named classes only: no anonymous
    # class expressions, so nothing the RL profile forbids on the right-hand side.
    for predicate in (RDFS.subClassOf, OWL.equivalentClass, OWL.disjointWith, RDFS.domain):
        for _, obj in g.subject_objects(predicate):
            assert isinstance(obj, URIRef), f"{predicate} with a class expression {obj}"
    for restriction in g.subjects(RDF.type, OWL.Restriction):
        pytest.fail(f"no restrictions are needed; found {restriction}")
    for maximum in g.objects(None, OWL.maxCardinality):
        assert int(maximum) <= 1
    assert not [t for t in g if isinstance(t[0], BNode) or isinstance(t[2], BNode)]


def scheme_members(ontology: rdflib.Graph, scheme: URIRef) -> set[URIRef]:
    return set(ontology.subjects(SKOS.inScheme, scheme))


def shape_in_list(shapes: rdflib.Graph, shape: URIRef) -> set[URIRef]:
    head = shapes.value(shape, SH["in"])
    return set(rdflib.collection.Collection(shapes, head))


def test_engagement_types_carry_cameo_codes(ontology_graph: rdflib.Graph) -> None:
    cameo = {}
    for concept in scheme_members(ontology_graph, ENGAGEMENT_TYPES):
        notations = list(ontology_graph.objects(concept, SKOS.notation))
        assert len(notations) == 1, concept
        assert notations[0].datatype in (DEX.CAMEOCode, DEX.PLOVERCode), concept
        if notations[0].datatype == DEX.CAMEOCode:
            cameo[str(notations[0])] = concept
            assert "CAMEO " + str(notations[0]) in str(ontology_graph.value(concept, SKOS.note))
    assert {"040", "042", "043", "044", "057", "062"} <= cameo.keys()
    plover = URIRef("https://w3id.org/defence-engagements/id/engagement-type/plover-consult")
    for code in ("040", "042", "043", "044"):
        assert ontology_graph.value(cameo[code], SKOS.broader) == plover


def test_shape_lists_equal_the_concept_schemes(
    ontology_graph: rdflib.Graph, shapes_graph: rdflib.Graph
) -> None:
    cameo_coded = {
        c
        for c in scheme_members(ontology_graph, ENGAGEMENT_TYPES)
        if ontology_graph.value(c, SKOS.notation).datatype == DEX.CAMEOCode
    }
    assert shape_in_list(shapes_graph, DESH["EngagementTypeShape-engagementType"]) == cameo_coded
    topics = scheme_members(ontology_graph, TOPICS)
    assert shape_in_list(shapes_graph, DESH["EngagementShape-topicClass"]) == topics


def test_topic_hierarchy(ontology_graph: rdflib.Graph) -> None:
    topic = "https://w3id.org/defence-engagements/id/topic/"
    assert (
        URIRef(topic + "cyber-defence"),
        SKOS.broader,
        URIRef(topic + "security-cooperation"),
    ) in ontology_graph
    tops = set(ontology_graph.objects(TOPICS, SKOS.hasTopConcept))
    for concept in scheme_members(ontology_graph, TOPICS) - tops:
        assert ontology_graph.value(concept, SKOS.broader) is not None, concept
