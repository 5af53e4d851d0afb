"""A resource's description: what a ``/doc/`` document contains.

All triples with the resource as subject (asserted and inferred: the default graph
is the union), the statements about blank nodes it points to, the labels of what it
points to and of the properties used, and the triples pointing at it with the
labels of their subjects — so a document is readable on its own, as LodView and
Pubby documents are.
"""

from __future__ import annotations

import pyoxigraph

from defence_engagements.query import QueryExecutor
from defence_engagements.web.data_access import ask, construct, iri

LABEL_PROPERTIES = (
    "http://www.w3.org/2000/01/rdf-schema#label",
    "http://www.w3.org/2004/02/skos/core#prefLabel",
    "http://xmlns.com/foaf/0.1/name",
    "https://schema.org/name",
    "http://purl.org/dc/terms/title",
    # A quote has no name but its words: the last resort, so quotes read as themselves.
    "http://www.w3.org/ns/oa#exact",
)
_LABEL_VALUES = " ".join(f"<{p}>" for p in LABEL_PROPERTIES)


def description_query(resource: str) -> str:
    r = iri(resource)
    return f"""
CONSTRUCT {{
  {r} ?p ?o . ?o ?lp ?ol . ?p rdfs:label ?pl . ?o ?bp ?bo .
  ?s ?ip {r} . ?s ?slp ?sl . ?ip rdfs:label ?ipl .
}}
WHERE {{
  {{
    {r} ?p ?o .
    OPTIONAL {{ ?p rdfs:label ?pl }}
    OPTIONAL {{ VALUES ?lp {{ {_LABEL_VALUES} }} ?o ?lp ?ol }}
    OPTIONAL {{ FILTER(isBlank(?o)) ?o ?bp ?bo }}
  }} UNION {{
    ?s ?ip {r} .
    FILTER(!isBlank(?s))
    OPTIONAL {{ ?ip rdfs:label ?ipl }}
    OPTIONAL {{ VALUES ?slp {{ {_LABEL_VALUES} }} ?s ?slp ?sl }}
  }}
}}"""


async def describe(executor: QueryExecutor, resource: str) -> list[pyoxigraph.Triple]:
    return await construct(executor, description_query(resource))


async def is_known(executor: QueryExecutor, resource: str) -> bool:
    r = iri(resource)
    return await ask(executor, f"ASK {{ {{ {r} ?p ?o }} UNION {{ ?s ?q {r} }} }}")
