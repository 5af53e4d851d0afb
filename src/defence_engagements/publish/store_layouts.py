"""Where a store's SPARQL query endpoint lives, given its Graph Store Protocol URL.

Each product puts the two services at fixed paths; where the layout is known the
user need not type the second URL. Anything else must be given with ``--sparql``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class StoreLayout:
    product: str
    graph_store_path: re.Pattern[str]  # matches the path of the Graph Store URL
    query_path: str  # replacement, may use the pattern's groups


LAYOUTS: tuple[StoreLayout, ...] = (
    StoreLayout("Oxigraph server", re.compile(r"^(?P<root>.*)/store/?$"), r"\g<root>/query"),
    StoreLayout(
        "Apache Jena Fuseki", re.compile(r"^(?P<root>.*/[^/]+)/data/?$"), r"\g<root>/sparql"
    ),
    StoreLayout(
        "GraphDB / RDF4J",
        re.compile(r"^(?P<root>.*/repositories/[^/]+)/rdf-graphs/service/?$"),
        r"\g<root>",
    ),
    StoreLayout(
        "OpenLink Virtuoso",
        re.compile(r"^(?P<root>.*)/sparql-graph-crud(?:-auth)?/?$"),
        r"\g<root>/sparql",
    ),
    StoreLayout("Amazon Neptune", re.compile(r"^(?P<root>.*)/sparql/gsp/?$"), r"\g<root>/sparql"),
)


def derive_sparql_endpoint(store_url: str) -> tuple[str, str] | None:
    """(query endpoint URL, product name) for a known layout, else None."""
    parts = urlsplit(store_url)
    for layout in LAYOUTS:
        match = layout.graph_store_path.match(parts.path)
        if match:
            path = match.expand(layout.query_path) or "/"
            return urlunsplit((parts.scheme, parts.netloc, path, "", "")), layout.product
    return None
