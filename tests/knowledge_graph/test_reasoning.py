"""owlrl's OWL 2 RL closure of ontology + data is consistent and adds what the ontology promises."""

from __future__ import annotations

import rdflib
from owlrl.Namespaces import ERRNS
from rdflib import OWL, RDF, URIRef

from .support import DEX, ID


def test_closure_is_consistent(closure_graph: rdflib.Graph) -> None:
    errors = [str(m) for m in closure_graph.objects(None, ERRNS.error)]
    assert errors == []
    assert list(closure_graph.subjects(RDF.type, OWL.Nothing)) == []
    for left, right in closure_graph.subject_objects(OWL.disjointWith):
        clash = set(closure_graph.subjects(RDF.type, left)) & set(
            closure_graph.subjects(RDF.type, right)
        )
        assert not clash, f"members of disjoint {left} and {right}: {clash}"


def test_closure_adds_the_promised_inferences(closure_graph: rdflib.Graph) -> None:
    g = closure_graph
    engagement = URIRef(ID + "engagement/2024-03-11-useucom-japan-joint-staff-talks")
    lasica = URIRef(ID + "person/daniel-lasica")
    # sub-property and inverse
    assert (engagement, DEX.participant, lasica) in g
    assert (lasica, DEX.hosted, engagement) in g
    # property chain: participant's post → its country
    assert (engagement, DEX.involvesCountry, URIRef(ID + "country/jp")) in g
    # transitive place containment: facility → city → country → region
    assert (
        URIRef(ID + "place/useucom-headquarters"),
        DEX.containedInPlace,
        URIRef(ID + "place/europe"),
    ) in g
    # transitive organisation containment
    assert (
        URIRef(ID + "organization/us-european-command-public-affairs"),
        DEX.withinOrganization,
        URIRef(ID + "organization/us-department-of-defense"),
    ) in g
    # class hierarchy: a summit is a meeting, an engagement and a schema:Event
    summit = URIRef(ID + "engagement/2024-04-biden-kishida-summit")
    for cls in (DEX.Meeting, DEX.Engagement, URIRef("https://schema.org/Event")):
        assert (summit, RDF.type, cls) in g


def test_closure_stays_small(asserted_graph: rdflib.Graph, closure_graph: rdflib.Graph) -> None:
    """A guard against axioms that blow up the closure (PERF-NOTES: ~2x is the norm)."""
    assert len(closure_graph) < 4 * len(asserted_graph)
