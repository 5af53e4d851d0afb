"""Turning a description (triples) into what an HTML page shows.

Pure: labels are chosen from the description itself (English first, then any
language, then the IRI's last segment), properties are grouped and ordered, and
each value knows whether it is a link, a literal with a datatype or language, or
a Wikidata item.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pyoxigraph

from defence_engagements.namespaces import DEX, PREFIXES, WIKIDATA_ENTITY
from defence_engagements.web.description import LABEL_PROPERTIES

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD = "http://www.w3.org/2001/XMLSchema#"
_COMMENT_PROPERTIES = (
    "http://www.w3.org/2000/01/rdf-schema#comment",
    "http://purl.org/dc/terms/description",
    "http://www.w3.org/2004/02/skos/core#definition",
)


def compact(iri: str) -> str:
    """``http://…/core#prefLabel`` → ``skos:prefLabel`` where a prefix is known."""
    best = ""
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and len(namespace) > len(best):
            best = namespace
            name = f"{prefix}:{iri[len(namespace) :]}"
    return name if best else iri


def local_name(iri: str) -> str:
    tail = iri.rstrip("/#")
    for separator in ("#", "/"):
        if separator in tail:
            tail = tail.rsplit(separator, 1)[1]
    return tail or iri


@dataclass(frozen=True)
class Value:
    text: str  # what is shown
    iri: str | None = None  # a link target (canonical IRI), for named nodes
    datatype: str | None = None  # compact datatype of a typed literal
    datatype_iri: str | None = None
    language: str | None = None
    is_wikidata: bool = False

    @property
    def sort_key(self) -> str:
        return self.text.casefold()


@dataclass
class PropertyValues:
    iri: str
    label: str
    values: list[Value] = field(default_factory=list)

    @property
    def compact(self) -> str:
        return compact(self.iri)


@dataclass
class ResourceView:
    iri: str
    label: str
    types: list[Value]  # every type, inferred ones included
    comment: str | None
    properties: list[PropertyValues]  # outgoing, rdf:type excluded
    incoming: list[PropertyValues]  # subjects pointing here, grouped by property
    labels: dict[str, str]

    @property
    def own_types(self) -> list[Value]:
        """The types from our ontology (the rest are alignments, shown with the statements)."""
        ours = [t for t in self.types if t.iri and t.iri.startswith(DEX)]
        return ours or self.types

    def values(self, property_iri: str) -> list[Value]:
        for group in self.properties:
            if group.iri == property_iri:
                return group.values
        return []

    def first(self, property_iri: str) -> Value | None:
        values = self.values(property_iri)
        return values[0] if values else None

    def incoming_values(self, property_iri: str) -> list[Value]:
        for group in self.incoming:
            if group.iri == property_iri:
                return group.values
        return []


def collect_labels(triples: list[pyoxigraph.Triple]) -> dict[str, str]:
    """IRI → its best label: English, then untagged, then any language; by label property."""
    candidates: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for triple in triples:
        predicate = triple.predicate.value
        if predicate in LABEL_PROPERTIES and isinstance(triple.object, pyoxigraph.Literal):
            language = triple.object.language
            rank = 0 if language in ("en", "en-gb", "en-us") else 1 if not language else 2
            candidates[triple.subject.value].append(
                (rank, LABEL_PROPERTIES.index(predicate), triple.object.value)
            )
    return {subject: _shorten(min(options)[2]) for subject, options in candidates.items()}


def _shorten(label: str, limit: int = 160) -> str:
    return label if len(label) <= limit else label[: limit - 1].rsplit(" ", 1)[0] + "…"


def label_for(iri: str, labels: dict[str, str]) -> str:
    if iri in labels:
        return labels[iri]
    if iri.startswith(WIKIDATA_ENTITY):
        return iri[len(WIKIDATA_ENTITY) :]
    return local_name(iri).replace("-", " ") if "/id/" in iri else compact(iri)


def to_value(term: object, labels: dict[str, str]) -> Value:
    if isinstance(term, pyoxigraph.NamedNode):
        return Value(
            text=label_for(term.value, labels),
            iri=term.value,
            is_wikidata=term.value.startswith(WIKIDATA_ENTITY),
        )
    if isinstance(term, pyoxigraph.Literal):
        datatype = term.datatype.value if term.datatype else None
        plain = datatype in (None, XSD + "string") or term.language
        return Value(
            text=term.value,
            datatype=None if plain else compact(datatype or ""),
            datatype_iri=datatype,
            language=term.language,
        )
    return Value(text=str(term))


def build_view(resource: str, triples: list[pyoxigraph.Triple]) -> ResourceView:
    labels = collect_labels(triples)
    outgoing: dict[str, PropertyValues] = {}
    incoming: dict[str, PropertyValues] = {}
    types: list[Value] = []
    comment = None
    for triple in triples:
        subject, predicate, obj = triple.subject, triple.predicate.value, triple.object
        if isinstance(subject, pyoxigraph.NamedNode) and subject.value == resource:
            if predicate == RDF_TYPE:
                types.append(to_value(obj, labels))
                continue
            if (
                predicate in _COMMENT_PROPERTIES
                and isinstance(obj, pyoxigraph.Literal)
                and (comment is None or obj.language in ("en", None))
            ):
                comment = obj.value
            group = outgoing.setdefault(
                predicate, PropertyValues(predicate, label_for(predicate, labels))
            )
            group.values.append(to_value(obj, labels))
        elif isinstance(obj, pyoxigraph.NamedNode) and obj.value == resource:
            group = incoming.setdefault(
                predicate, PropertyValues(predicate, label_for(predicate, labels))
            )
            group.values.append(to_value(subject, labels))
    for group in (*outgoing.values(), *incoming.values()):
        group.values.sort(key=lambda value: value.sort_key)
    return ResourceView(
        iri=resource,
        label=labels.get(resource, local_name(resource).replace("-", " ")),
        types=sorted(types, key=lambda value: value.sort_key),
        comment=comment,
        properties=sorted(outgoing.values(), key=lambda g: g.label.casefold()),
        incoming=sorted(incoming.values(), key=lambda g: g.label.casefold()),
        labels=labels,
    )
