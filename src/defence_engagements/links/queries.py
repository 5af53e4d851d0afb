"""The SPARQL queries sent to Wikidata, in shapes its query service answers quickly.

Each takes a batch of items in a ``VALUES`` block; lookups by label are exact
matches on language-tagged strings (indexed on Wikidata), since a stand-in has
no ``wikibase:mwapi`` search.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from defence_engagements.links.wikidata_client import values_block

PREFIXES = """PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX schema: <http://schema.org/>
PREFIX wdt: <http://www.wikidata.org/prop/direct/>
"""

# Statements that place an item in a context we can compare with our data.
CONTEXT_PROPERTIES = {
    "P17": "country",
    "P27": "country of citizenship",
    "P108": "employer",
    "P131": "located in the administrative territorial entity",
    "P361": "part of",
    "P463": "member of",
    "P749": "parent organization",
}


def item_facts(items: Sequence[str]) -> str:
    """Redirects, labels, aliases and direct classes of each item.

    Names in every language, but each distinct string once: a person's name is the
    same in dozens of languages, so this keeps the answer small.
    """
    return f"""{PREFIXES}SELECT DISTINCT ?item ?redirect ?name ?class WHERE {{
  {values_block("item", items)}
  {{ ?item owl:sameAs ?redirect }}
  UNION {{ ?item rdfs:label ?label BIND(STR(?label) AS ?name) }}
  UNION {{ ?item skos:altLabel ?label BIND(STR(?label) AS ?name) }}
  UNION {{ ?item wdt:P31 ?class }}
}}"""


def item_types(items: Sequence[str], types: Iterable[str]) -> str:
    """Which of ``types`` each item is an instance of, through any chain of subclasses."""
    return f"""{PREFIXES}SELECT DISTINCT ?item ?type WHERE {{
  {values_block("item", items)}
  {values_block("type", sorted(types))}
  ?item wdt:P31/wdt:P279* ?type .
}}"""


def label_lookup(rows: Sequence[tuple[str, str]]) -> str:
    """Items whose label or alias is exactly one of the ``(key IRI, Turtle literal)`` rows."""
    values = " ".join(f"(<{key}> {literal})" for key, literal in rows)
    return f"""{PREFIXES}SELECT ?key ?item ?text ?how WHERE {{
  VALUES (?key ?text) {{ {values} }}
  {{ ?item rdfs:label ?text . BIND("label" AS ?how) }}
  UNION {{ ?item skos:altLabel ?text . BIND("alias" AS ?how) }}
}}"""


def candidate_details(items: Sequence[str], language: str = "en") -> str:
    """Classes, context statements, label and description of candidate items."""
    context = "\n".join(
        f'  UNION {{ ?item wdt:{pid} ?value . BIND("{pid}" AS ?property) }}'
        for pid in CONTEXT_PROPERTIES
    )
    return f"""{PREFIXES}SELECT ?item ?property ?value WHERE {{
  {values_block("item", items)}
  {{ ?item wdt:P31 ?value . BIND("P31" AS ?property) }}
{context}
  UNION {{ ?item rdfs:label ?value . FILTER(LANG(?value) = "{language}")
           BIND("label" AS ?property) }}
  UNION {{ ?item schema:description ?value . FILTER(LANG(?value) = "{language}")
           BIND("description" AS ?property) }}
}}"""
