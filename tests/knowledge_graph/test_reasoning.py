"""owlrl's OWL 2 RL closure of ontology + data is consistent and adds what the ontology promises."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from owlrl.Namespaces import ERRNS
from rdflib import OWL, RDF, URIRef

from defence_engagements.namespaces import GRAPH_INFERRED, GRAPH_LINKS
from defence_engagements.pipeline import Sources, parse_sources, reason, source_files
from defence_engagements.pipeline.incremental import ParseCache
from defence_engagements.settings import Settings, load_settings
from defence_engagements.store import open_published_build

from .support import DEX, ID, REPO_ROOT


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


# The links graph is not reasoned over (README "The build"): owl:sameAs to Wikidata would
# copy every property of an entity onto its Wikidata item and back.

WIKIDATA = "http://www.wikidata.org/"
LINK_RECORDS_FILE = "data/wikidata-links.ttl"


def _mentions_wikidata(triple: ox.Triple) -> bool:
    return any(
        isinstance(term, ox.NamedNode) and term.value.startswith(WIKIDATA)
        for term in (triple.subject, triple.object)
    )


@pytest.fixture(scope="module")
def build_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Sources]:
    """The real sources, parsed by the build's own parser (same triples, same blank nodes)."""
    settings = load_settings(repo_root=REPO_ROOT)
    cache = ParseCache(tmp_path_factory.mktemp("parse-cache"))
    return settings, parse_sources(source_files(settings), cache)


def test_the_published_inferred_graph_never_mentions_wikidata(
    published_build: Path, build_inputs: tuple[Settings, Sources]
) -> None:
    settings, sources = build_inputs
    build = open_published_build(published_build / "current")
    graph = ox.NamedNode(GRAPH_INFERRED)
    inferred = {q.triple for q in build.store.quads_for_pattern(None, None, None, graph)}
    links = {
        q.triple for q in build.store.quads_for_pattern(None, None, None, ox.NamedNode(GRAPH_LINKS))
    }
    assert inferred and links  # both graphs were built; the links do name Wikidata items
    assert all(_mentions_wikidata(t) for t in links)
    assert [t for t in inferred if _mentions_wikidata(t)] == []
    # The published graph is the closure of ontology + data alone, links left out …
    ontology, data = Sources.triples(sources.ontology), Sources.triples(sources.data)
    assert inferred == reason.infer(ontology, data, engine=settings.reasoner)
    # … which matters: reasoning over the links would put Wikidata items in it.
    with_links = reason.infer(ontology, [*data, *links], engine=settings.reasoner)
    assert any(_mentions_wikidata(t) for t in with_links - inferred)


def test_the_inferred_graph_is_the_same_without_the_link_records(
    build_inputs: tuple[Settings, Sources],
) -> None:
    """Dropping data/wikidata-links.ttl (and each entity's pointer to its record) changes
    nothing the reasoner says about anything but the records themselves."""
    settings, sources = build_inputs
    ontology = Sources.triples(sources.ontology)
    names = [parsed.source.name for parsed in sources.data]
    assert LINK_RECORDS_FILE in names
    records_file = next(p for p in sources.data if p.source.name == LINK_RECORDS_FILE)
    records = {t.subject for t in records_file.triples}
    data = Sources.triples(sources.data)
    pointer = ox.NamedNode(str(DEX.wikidataLink))
    without = [
        t
        for parsed in sources.data
        if parsed.source.name != LINK_RECORDS_FILE
        for t in parsed.triples
        if t.predicate != pointer
    ]
    assert len(without) < len(data) - len(records_file.triples)  # the pointers were there

    inferred = reason.infer(ontology, data, engine=settings.reasoner)
    inferred_without = reason.infer(ontology, without, engine=settings.reasoner)
    about_records = {t for t in inferred if t.subject in records or t.object in records}
    assert about_records  # e.g. each record is a prov:Entity: the comparison is not vacuous
    assert inferred - about_records == inferred_without
