"""IRIs: the canonical base, our namespaces, the named graphs, known vocabularies."""

from __future__ import annotations

import re

from defence_engagements.settings import CANONICAL_BASE

BASE = CANONICAL_BASE
ONTOLOGY_IRI = BASE + "def"
DEX = BASE + "def#"  # ontology terms: dex:Engagement, dex:host, ...
ID = BASE + "id/"  # things: id/{type}/{slug}
DOC = BASE + "doc/"  # their documents: doc/{type}/{slug}
GRAPH = BASE + "graph/"

GRAPH_ONTOLOGY = GRAPH + "ontology"  # ontology/*.ttl, incl. the SKOS concept schemes
GRAPH_DATA = GRAPH + "data"  # data/**/*.ttl as asserted
GRAPH_INFERRED = GRAPH + "inferred"  # OWL 2 RL closure minus asserted, restricted
GRAPH_LINKS = GRAPH + "links"  # owl:sameAs + skos:exactMatch to Wikidata (not reasoned over)
GRAPH_METADATA = GRAPH + "metadata"  # VoID/DCAT dataset description
NAMED_GRAPHS = (GRAPH_ONTOLOGY, GRAPH_DATA, GRAPH_INFERRED, GRAPH_LINKS, GRAPH_METADATA)

WIKIDATA_ENTITY = "http://www.wikidata.org/entity/"
WIKIDATA_ITEM_PATTERN = re.compile(r"^http://www\.wikidata\.org/entity/Q[1-9][0-9]*$")
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# Prefixes used in dumps, documents and the query page.
PREFIXES: dict[str, str] = {
    "dex": DEX,
    "de": ID,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "schema": "https://schema.org/",
    "org": "http://www.w3.org/ns/org#",
    "prov": "http://www.w3.org/ns/prov#",
    "time": "http://www.w3.org/2006/time#",
    "oa": "http://www.w3.org/ns/oa#",
    "void": "http://rdfs.org/ns/void#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "sh": "http://www.w3.org/ns/shacl#",
    "sd": "http://www.w3.org/ns/sparql-service-description#",
    "wd": WIKIDATA_ENTITY,
    "wdt": "http://www.wikidata.org/prop/direct/",
}

# Namespaces an IRI in our data may live in besides our own base.
KNOWN_VOCABULARIES: tuple[str, ...] = (*PREFIXES.values(), "http://www.w3.org/ns/dcat#")


def thing_iri(kind: str, slug: str, base: str = BASE) -> str:
    return f"{base}id/{kind}/{slug}"


def document_iri(kind: str, slug: str, base: str = BASE) -> str:
    return f"{base}doc/{kind}/{slug}"


def split_thing_iri(iri: str, base: str = BASE) -> tuple[str, str] | None:
    """``…/id/{kind}/{slug}`` → (kind, slug); anything else → None."""
    prefix = base + "id/"
    if not iri.startswith(prefix):
        return None
    kind, _, slug = iri[len(prefix) :].partition("/")
    return (kind, slug) if kind and slug and "/" not in slug else None
