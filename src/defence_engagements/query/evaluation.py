"""Evaluating one query on a store and writing its answer: what every local executor runs."""

from __future__ import annotations

import time
from typing import Any

import pyoxigraph

from defence_engagements.errors import NotAcceptableError, QuerySyntaxError
from defence_engagements.formats import Format
from defence_engagements.query import QueryRequest, QueryResponse, ResultKind
from defence_engagements.query.results_writer import (
    Written,
    write_boolean,
    write_graph,
    write_solutions,
)


def run_query(
    store: pyoxigraph.Store, request: QueryRequest, *, rows_at_most: int | None = None
) -> tuple[Written, ResultKind, Format]:
    """Evaluate ``request`` on ``store`` and write the result in the negotiated format.

    ``rows_at_most``: a proven bound on the answer's rows (query/bounded.py). When the
    answer cannot be cut at ``max_rows``, solutions are written by pyoxigraph's own
    writer (same bytes, without decoding each term into Python), uncounted.
    """
    options: dict[str, Any] = {}
    if request.default_graph_uris:
        options["default_graph"] = [pyoxigraph.NamedNode(i) for i in request.default_graph_uris]
    else:
        options["use_default_graph_as_union"] = True
    if request.named_graph_uris:
        options["named_graphs"] = [pyoxigraph.NamedNode(i) for i in request.named_graph_uris]
    try:
        result = store.query(request.query, **options)
    except SyntaxError as error:
        raise QuerySyntaxError(str(error)) from None
    except ValueError as error:  # e.g. an invalid IRI in default-graph-uri
        raise QuerySyntaxError(str(error)) from None
    if isinstance(result, pyoxigraph.QueryBoolean):
        fmt = _need(request.results_format, "an ASK")
        return write_boolean(bool(result), fmt), ResultKind.BOOLEAN, fmt
    if isinstance(result, pyoxigraph.QuerySolutions):
        fmt = _need(request.results_format, "a SELECT")
        if rows_at_most is not None and rows_at_most <= request.max_rows:
            written = Written(result.serialize(format=fmt.oxigraph_results) or b"", None, False)
            return written, ResultKind.SOLUTIONS, fmt
        return write_solutions(result, fmt, request.max_rows), ResultKind.SOLUTIONS, fmt
    fmt = _need(request.graph_format, "a CONSTRUCT/DESCRIBE")
    return write_graph(result, fmt, request.max_rows), ResultKind.GRAPH, fmt


def response_of(written: Written, kind: ResultKind, fmt: Format, started: float) -> QueryResponse:
    """The response for an answer written since ``started`` (``time.monotonic()``)."""
    return QueryResponse(
        kind=kind,
        format=fmt,
        body=written.body,
        rows=written.rows,
        truncated=written.truncated,
        elapsed=time.monotonic() - started,
    )


def _need(fmt: Format | None, kind: str) -> Format:
    if fmt is None:
        raise NotAcceptableError(f"none of the accepted media types can carry {kind} result")
    return fmt
