"""``/def``: the ontology, documented from itself (as pyLODE does) or as RDF.

The ontology graph is fetched through the executor; every ``dex:`` class, property,
datatype and individual becomes an entry with its label, comment, domain and range,
characteristics, and alignment to other vocabularies (super-classes and
super-properties outside ``dex:``, equivalences, inverses, property chains).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pyoxigraph
from starlette.requests import Request
from starlette.responses import Response

from defence_engagements import formats
from defence_engagements.errors import EngagementsError, NotAcceptableError
from defence_engagements.namespaces import DEX, GRAPH_ONTOLOGY, ONTOLOGY_IRI, PREFIXES
from defence_engagements.web import negotiation
from defence_engagements.web.caching import (
    build_etag,
    cached_headers,
    matches_if_none_match,
    not_modified,
)
from defence_engagements.web.context import WebContext
from defence_engagements.web.data_access import construct
from defence_engagements.web.errors import NotFoundError, error_response
from defence_engagements.web.rendering import render_page
from defence_engagements.web.resource_view import collect_labels, compact, label_for

RDF = PREFIXES["rdf"]
RDFS = PREFIXES["rdfs"]
OWL = PREFIXES["owl"]
SKOS = PREFIXES["skos"]
DCTERMS = PREFIXES["dcterms"]

_KINDS = (
    (OWL + "Class", "Classes"),
    (OWL + "ObjectProperty", "Object properties"),
    (OWL + "DatatypeProperty", "Datatype properties"),
    (OWL + "AnnotationProperty", "Annotation properties"),
    (RDFS + "Datatype", "Datatypes"),
    (OWL + "NamedIndividual", "Individuals"),
)
_CHARACTERISTICS = {
    OWL + "TransitiveProperty": "transitive",
    OWL + "SymmetricProperty": "symmetric",
    OWL + "AsymmetricProperty": "asymmetric",
    OWL + "FunctionalProperty": "functional",
    OWL + "InverseFunctionalProperty": "inverse functional",
    OWL + "ReflexiveProperty": "reflexive",
    OWL + "IrreflexiveProperty": "irreflexive",
}
_RELATIONS = (
    (RDFS + "subClassOf", "Subclass of"),
    (RDFS + "subPropertyOf", "Subproperty of"),
    (OWL + "equivalentClass", "Equivalent to"),
    (OWL + "equivalentProperty", "Equivalent to"),
    (OWL + "inverseOf", "Inverse of"),
    (RDFS + "domain", "Domain"),
    (RDFS + "range", "Range"),
    (OWL + "disjointWith", "Disjoint with"),
    (SKOS + "exactMatch", "Exact match"),
    (SKOS + "closeMatch", "Close match"),
    (RDFS + "seeAlso", "See also"),
)
_ONTOLOGY_QUERY = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{GRAPH_ONTOLOGY}> {{ ?s ?p ?o }} }}"


@dataclass
class Link:
    iri: str
    text: str
    ours: bool


@dataclass
class TermDoc:
    iri: str
    name: str
    label: str
    comment: str | None
    kinds: list[str] = field(default_factory=list)
    characteristics: list[str] = field(default_factory=list)
    relations: list[tuple[str, list[Link]]] = field(default_factory=list)
    chains: list[list[Link]] = field(default_factory=list)
    used_as_subclass: list[Link] = field(default_factory=list)


def _rdf_list(start: object, edges: dict[str, dict[str, list[object]]]) -> list[object]:
    items: list[object] = []
    node = start
    for _ in range(100):
        key = str(node)
        first = edges.get(key, {}).get(RDF + "first")
        if not first:
            break
        items.append(first[0])
        node = (edges[key].get(RDF + "rest") or [None])[0]
    return items


def document_terms(
    triples: list[pyoxigraph.Triple],
) -> tuple[dict[str, str], list[tuple[str, list[TermDoc]]]]:
    labels = collect_labels(triples)
    edges: dict[str, dict[str, list[object]]] = defaultdict(lambda: defaultdict(list))
    for t in triples:
        edges[str(t.subject)][t.predicate.value].append(t.object)

    def link(term: object) -> Link:
        value = term.value if isinstance(term, pyoxigraph.NamedNode) else str(term)
        return Link(
            value,
            label_for(value, labels) if value.startswith(DEX) else compact(value),
            value.startswith(DEX),
        )

    ontology = {
        p: [o.value for o in objs] for p, objs in edges.get(f"<{ONTOLOGY_IRI}>", {}).items()
    }
    docs: dict[str, TermDoc] = {}
    for subject, props in edges.items():
        if not subject.startswith(f"<{DEX}"):
            continue
        iri = subject[1:-1]
        kinds = [
            o.value for o in props.get(RDF + "type", []) if isinstance(o, pyoxigraph.NamedNode)
        ]
        comments = [o for o in props.get(RDFS + "comment", []) if isinstance(o, pyoxigraph.Literal)]
        doc = TermDoc(
            iri=iri,
            name=iri[len(DEX) :],
            label=labels.get(iri, iri[len(DEX) :]),
            comment=comments[0].value if comments else None,
            kinds=kinds,
            characteristics=sorted(_CHARACTERISTICS[k] for k in kinds if k in _CHARACTERISTICS),
        )
        for predicate, title in _RELATIONS:
            values = [
                link(o) for o in props.get(predicate, []) if isinstance(o, pyoxigraph.NamedNode)
            ]
            if values:
                doc.relations.append((title, sorted(values, key=lambda v: v.text.casefold())))
        for chain in props.get(OWL + "propertyChainAxiom", []):
            doc.chains.append([link(step) for step in _rdf_list(chain, edges)])
        docs[iri] = doc
    for doc in docs.values():
        for title, values in doc.relations:
            if title in ("Subclass of", "Subproperty of"):
                for parent in values:
                    if parent.iri in docs:
                        docs[parent.iri].used_as_subclass.append(Link(doc.iri, doc.label, True))
    sections = []
    placed: set[str] = set()
    for kind, title in _KINDS:
        members = [d for d in docs.values() if kind in d.kinds and d.iri not in placed]
        placed.update(d.iri for d in members)
        if members:
            sections.append((title, sorted(members, key=lambda d: d.label.casefold())))
    rest = [d for d in docs.values() if d.iri not in placed and d.kinds]
    if rest:
        sections.append(("Other terms", sorted(rest, key=lambda d: d.label.casefold())))
    header = {
        "title": (ontology.get(DCTERMS + "title") or ["Defence engagements ontology"])[0],
        "description": (ontology.get(DCTERMS + "description") or [""])[0],
        "version": (ontology.get(OWL + "versionInfo") or [""])[0],
        "version_iri": (ontology.get(OWL + "versionIRI") or [""])[0],
        "license": (ontology.get(DCTERMS + "license") or [""])[0],
        "creator": ", ".join(ontology.get(DCTERMS + "creator") or []),
        "modified": (ontology.get(DCTERMS + "modified") or [""])[0],
    }
    return header, sections


async def ontology(request: Request) -> Response:
    context: WebContext = request.app.state.context
    extension = request.path_params.get("extension")
    try:
        if extension:
            fmt = negotiation.format_for_extension(extension, negotiation.DOCUMENT_OFFER)
            if fmt is None:
                raise NotFoundError(f"the ontology is not offered as .{extension}")
        else:
            fmt = negotiation.negotiate(request.headers.get("accept"), negotiation.DOCUMENT_OFFER)
            if fmt is None:
                raise NotAcceptableError(
                    "the ontology is offered as HTML, Turtle, N-Triples, JSON-LD and RDF/XML"
                )
        build = context.builds.current()
        etag = build_etag(build.version, "def", fmt.name, context.urls.serving_base)
        if matches_if_none_match(request, etag):
            return not_modified(etag)
        triples = await construct(context.executor, _ONTOLOGY_QUERY)
        headers = cached_headers(etag)
        if fmt is formats.HTML:
            header, sections = document_terms(triples)
            return render_page(
                request,
                "ontology.html",
                {
                    "title": header["title"],
                    "ontology": header,
                    "sections": sections,
                    "ontology_iri": ONTOLOGY_IRI,
                    "alternates": [
                        {"href": f"def.{f.extension}", "type": f.media_type, "name": f.name}
                        for f in formats.GRAPH_FORMATS
                    ],
                },
                headers=headers,
            )
        body = pyoxigraph.serialize(triples, format=fmt.oxigraph_rdf, prefixes=PREFIXES) or b""
        return Response(body, headers=headers, media_type=fmt.content_type)
    except EngagementsError as error:
        return error_response(request, error)
