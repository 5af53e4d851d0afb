"""Asking the executor for data, as every page and document does.

The web layer never touches a store: it sends SPARQL through the
:class:`~defence_engagements.query.QueryExecutor` (so the same pages run over the
worker pool or a remote endpoint), asks for SPARQL JSON or N-Triples, and parses
the answer back into pyoxigraph terms.
"""

from __future__ import annotations

from typing import Any

import pyoxigraph

from defence_engagements import formats
from defence_engagements.namespaces import PREFIXES
from defence_engagements.query import QueryExecutor, QueryRequest, ResultKind

Term = pyoxigraph.NamedNode | pyoxigraph.BlankNode | pyoxigraph.Literal
Row = dict[str, Any]

PROLOGUE = "".join(f"PREFIX {prefix}: <{iri}>\n" for prefix, iri in PREFIXES.items())
# Internal page queries are small; they get a generous but bounded time.
_PAGE_QUERY_TIMEOUT = 20.0
_PAGE_MAX_ROWS = 50_000


async def select(executor: QueryExecutor, query: str) -> list[Row]:
    """Rows of a SELECT as {variable: term}; unbound variables are absent."""
    response = await executor.execute(
        QueryRequest(
            query=PROLOGUE + query,
            results_format=formats.RESULTS_JSON,
            graph_format=None,
            timeout=_PAGE_QUERY_TIMEOUT,
            max_rows=_PAGE_MAX_ROWS,
        )
    )
    solutions = pyoxigraph.parse_query_results(
        response.body, format=pyoxigraph.QueryResultsFormat.JSON
    )
    if isinstance(solutions, pyoxigraph.QueryBoolean):
        return []
    names = [variable.value for variable in solutions.variables]
    rows = []
    for solution in solutions:
        row = {}
        for name in names:
            value = solution[name]
            if value is not None:
                row[name] = value
        rows.append(row)
    return rows


async def ask(executor: QueryExecutor, query: str) -> bool:
    response = await executor.execute(
        QueryRequest(
            query=PROLOGUE + query,
            results_format=formats.RESULTS_JSON,
            graph_format=None,
            timeout=_PAGE_QUERY_TIMEOUT,
        )
    )
    result = pyoxigraph.parse_query_results(
        response.body, format=pyoxigraph.QueryResultsFormat.JSON
    )
    return bool(result) if isinstance(result, pyoxigraph.QueryBoolean) else False


async def construct(executor: QueryExecutor, query: str) -> list[pyoxigraph.Triple]:
    """The triples of a CONSTRUCT/DESCRIBE, deduplicated, in a stable order."""
    response = await executor.execute(
        QueryRequest(
            query=PROLOGUE + query,
            results_format=None,
            graph_format=formats.NTRIPLES,
            timeout=_PAGE_QUERY_TIMEOUT,
            max_rows=_PAGE_MAX_ROWS,
        )
    )
    if response.kind is not ResultKind.GRAPH:
        return []
    quads = pyoxigraph.parse(response.body, format=pyoxigraph.RdfFormat.N_TRIPLES)
    unique = {str(quad.triple): quad.triple for quad in quads}
    return [unique[key] for key in sorted(unique)]


def iri(value: str) -> str:
    """An IRI for a SPARQL query text; refuses characters that could break out of <>."""
    if any(c in value for c in '<>"{}|^`\\ \n\r\t'):
        raise ValueError(f"not a safe IRI: {value!r}")
    return f"<{value}>"
