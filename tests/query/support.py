"""What the executor tests share."""

from __future__ import annotations

from defence_engagements import formats
from defence_engagements.query import QueryRequest


def query_request(query: str, **changes: object) -> QueryRequest:
    """A request for ``query`` negotiated to SPARQL JSON and N-Triples, with ``changes``."""
    values: dict[str, object] = {
        "query": query,
        "results_format": formats.RESULTS_JSON,
        "graph_format": formats.NTRIPLES,
    }
    values.update(changes)
    return QueryRequest(**values)  # type: ignore[arg-type]
