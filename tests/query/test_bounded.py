"""Bounded queries answered in the server process: what is read as bounded, and that the
answers are the workers' answers, on the real build."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pyoxigraph
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from defence_engagements import formats
from defence_engagements.errors import QuerySyntaxError
from defence_engagements.query import QueryRequest, QueryResponse
from defence_engagements.query.bounded import (
    RDF_TYPE,
    BoundedFirstExecutor,
    NotBounded,
    Pattern,
    patterns_of,
    rows_bound,
    rows_from_statistics,
    shape_of,
)
from defence_engagements.query.pool import WorkerPoolExecutor
from defence_engagements.store import open_published_build

from .support import query_request

T = TypeVar("T")
DEF = "https://w3id.org/defence-engagements/def#"
BASE_ID = "https://w3id.org/defence-engagements/id/"


@pytest.mark.parametrize(
    ("query", "patterns"),
    [
        ("SELECT ?p ?o WHERE { <http://a/e> ?p ?o }", [Pattern("http://a/e", None, None)]),
        ("SELECT * WHERE{<http://a/e>?p?o}", [Pattern("http://a/e", None, None)]),
        (
            "PREFIX de: <http://d/#> SELECT DISTINCT ?t "
            "{ <http://a/e> a ?t ; de:x ?d , <http://o> }"
            " ORDER BY ?t LIMIT 5 OFFSET 1",
            [
                Pattern("http://a/e", RDF_TYPE, None),
                Pattern("http://a/e", "http://d/#x", None),
                Pattern("http://a/e", "http://d/#x", "http://o"),
            ],
        ),
        ('ASK { <http://a/e> <http://p> "x"@en-GB }', [Pattern("http://a/e", "http://p", None)]),
        (
            "CONSTRUCT { ?s <http://p> ?o } WHERE { <http://a/e> ?p ?o "
            "OPTIONAL { <http://a/f> ?p 'y'^^<http://t> } }",
            [Pattern("http://a/e", None, None), Pattern("http://a/f", None, None)],
        ),
        (
            "SELECT * { { <http://a/e> ?p ?o } UNION { <http://a/f> ?p 1.5 } } # comment",
            [Pattern("http://a/e", None, None), Pattern("http://a/f", None, None)],
        ),
        ("CONSTRUCT WHERE { <http://a/e> ?p ?o }", [Pattern("http://a/e", None, None)]),
    ],
)
def test_reads_queries_that_name_every_subject(query: str, patterns: list[Pattern]) -> None:
    assert patterns_of(query) == patterns


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * { ?s ?p ?o }",  # a variable subject: any length
        "SELECT * { <http://a/e> ?p ?o . ?o ?q ?r }",  # a chain through a variable
        "SELECT * { <http://a/e> <http://p>* ?o }",  # a path
        "SELECT * { <http://a/e> ?p ?o FILTER(?o) }",  # an expression
        "SELECT (COUNT(*) AS ?n) { <http://a/e> ?p ?o }",
        "SELECT * { SERVICE <http://x/sparql> { <http://a/e> ?p ?o } }",
        "SELECT * { <http://a/e> ?p ?o } # service",  # the word anywhere
        "SELECT * { <http://a/e> ?p '\\u0041' }",  # escapes are decoded before parsing
        "SELECT * { GRAPH ?g { <http://a/e> ?p ?o } }",
        "SELECT * { <http://a/e> ?p _:b }",
        "SELECT * { [] ?p ?o }",
        "SELECT * { <http://a/e> ex:p ?o }",  # an undeclared prefix
        "SELECT * { <e> ?p ?o }",  # a relative IRI
        "SELECT * { <http://a/e> ?p ?o } VALUES ?o { 1 }",
        'SELECT * { <http://a/e> ?p """x""" }',
        "SELECT * { <http://a/e> ?p ?o.ex:x ?q ?r }",  # a word that runs on
        "SELECTDISTINCT * { <http://a/e> ?p ?o }",
        "CONSTRUCT WHERE { <http://a/e> ?p ?o OPTIONAL { <http://a/e> ?p ?o } }",
        "DESCRIBE <http://a/e>",
        "ASK {}",  # /health's query: it must reach a worker
        "SELECT * {\u00a0<http://a/e> ?p ?o }",  # not SPARQL white space
        "SELECT * " + "{" * 2000 + "<http://a/e> ?p ?o" + "}" * 2000,  # deeper than the reader goes
        "SELECT * {" + " ".join(f"<http://a/e{i}> ?p ?o ." for i in range(17)) + "}",
        "INSERT DATA { <http://a/e> <http://p> 1 }",
    ],
)
def test_refuses_everything_else(query: str) -> None:
    with pytest.raises(NotBounded):
        patterns_of(query)


@pytest.fixture(scope="module")
def engagement(published_build: Path) -> str:
    build = open_published_build(published_build / "current")
    rows = list(
        build.store.query(
            f"SELECT ?e {{ ?e a <{DEF}Engagement> }} ORDER BY ?e LIMIT 1",
            use_default_graph_as_union=True,
        )
    )
    return str(rows[0]["e"].value)


class Pool:
    """A real worker pool on its own event loop (its channels belong to one loop)."""

    def __init__(self, current: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.executor = WorkerPoolExecutor(current, workers=1)

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)


@pytest.fixture(scope="module")
def pool(published_build: Path) -> Iterator[Pool]:
    pool = Pool(published_build / "current")
    yield pool
    pool.run(pool.executor.close())
    pool.loop.close()


def _both(
    published_build: Path, pool: Pool, request: QueryRequest, rows: int = 10_000
) -> tuple[QueryResponse, QueryResponse, int]:
    bounded = BoundedFirstExecutor(pool.executor, published_build / "current", rows=rows)
    here = pool.run(bounded.execute(request))
    workers = pool.run(pool.executor.execute(request))
    return here, workers, bounded.answered_here


def _content(response: QueryResponse) -> object:
    if response.format is formats.RESULTS_JSON:
        document = json.loads(response.body)
        if "boolean" in document:
            return document["boolean"]
        return sorted(json.dumps(b, sort_keys=True) for b in document["results"]["bindings"])
    return sorted(response.body.decode().splitlines())


@pytest.mark.parametrize(
    "template",
    [
        "SELECT ?p ?o WHERE {{ <{e}> ?p ?o }}",
        "SELECT DISTINCT ?t {{ <{e}> a ?t }} ORDER BY ?t",
        "PREFIX de: <{d}> ASK {{ <{e}> a de:Engagement }}",
        "PREFIX de: <{d}> ASK {{ <{e}> a de:NoSuchClass }}",
        "CONSTRUCT {{ <{e}> ?p ?o }} WHERE {{ <{e}> ?p ?o }}",
        "SELECT * {{ {{ <{e}> a ?x }} UNION {{ <{e}> ?p <{e}> }} OPTIONAL {{ <{e}> ?q ?x }} }}",
    ],
)
def test_answers_are_the_workers_answers(
    published_build: Path, pool: Pool, engagement: str, template: str
) -> None:
    request = query_request(template.format(e=engagement, d=DEF))
    here, workers, answered_here = _both(published_build, pool, request)
    assert answered_here == 1
    assert (here.kind, here.format) == (workers.kind, workers.format)
    assert here.rows in (None, workers.rows)  # None: written by pyoxigraph, never cut
    assert not here.truncated and not workers.truncated
    assert _content(here) == _content(workers)
    assert workers.rows > 0 or _content(here) in (True, False)  # not an empty answer


def test_a_query_over_the_row_budget_goes_to_the_workers(
    published_build: Path, pool: Pool, engagement: str
) -> None:
    request = query_request(f"SELECT ?p ?o {{ <{engagement}> ?p ?o }}")
    store = open_published_build(published_build / "current").store
    triples = rows_bound(store, request.query, 10_000)
    assert triples is not None and triples > 5
    assert rows_bound(store, request.query, triples - 1) is None
    here, workers, answered_here = _both(published_build, pool, request, rows=triples - 1)
    assert answered_here == 0
    assert here.rows == workers.rows == triples
    _, _, answered_at_the_bound = _both(published_build, pool, request, rows=triples)
    assert answered_at_the_bound == 1


def test_the_bound_follows_joins_optional_and_union(published_build: Path, engagement: str) -> None:
    store = open_published_build(published_build / "current").store
    e = f"<{engagement}>"
    one = rows_bound(store, f"SELECT * {{ {e} ?p ?o }}", 1_000_000)
    types = rows_bound(store, f"SELECT * {{ {e} a ?t }}", 1_000_000)
    assert one is not None and types is not None and 1 < types < one
    cases = {
        f"SELECT * {{ {e} ?p ?o . {e} ?q ?r }}": one * one,
        f"SELECT * {{ {e} ?p ?o OPTIONAL {{ {e} a ?t }} }}": one * types,
        f"SELECT * {{ {e} ?p ?o OPTIONAL {{ {e} <http://example.org/none> ?x }} }}": one,
        f"SELECT * {{ {{ {e} ?p ?o }} UNION {{ {e} a ?o }} }}": one + types,
        f"ASK {{ {e} <http://example.org/none> ?x }}": 0,
    }
    for query, expected in cases.items():
        assert rows_bound(store, query, 1_000_000) == expected, query
        # and the engine's own count never exceeds it
        result = store.query(query, use_default_graph_as_union=True)
        actual = (
            int(bool(result)) if isinstance(result, pyoxigraph.QueryBoolean) else len(list(result))
        )
        assert actual <= max(expected, 1 if "ASK" in query else 0), query


def test_a_request_allowing_under_a_second_goes_to_the_workers(
    published_build: Path, pool: Pool, engagement: str
) -> None:
    query = f"SELECT ?p ?o {{ <{engagement}> ?p ?o }}"
    _, _, answered_here = _both(published_build, pool, query_request(query, timeout=1.0))
    assert answered_here == 1
    # Below the floor: the workers answer it, within the time it allows.
    here, workers, answered_here = _both(published_build, pool, query_request(query, timeout=0.9))
    assert answered_here == 0
    assert _content(here) == _content(workers)


def test_unbounded_queries_go_to_the_workers(published_build: Path, pool: Pool) -> None:
    request = query_request("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")
    here, workers, answered_here = _both(published_build, pool, request)
    assert answered_here == 0
    assert _content(here) == _content(workers)


def test_a_syntax_error_reads_as_the_workers_would_say_it(
    published_build: Path, pool: Pool
) -> None:
    request = query_request("SELECT * { <http://a/e> ?p ?o ; }  LIMIT x")  # read as bounded? no
    with pytest.raises(NotBounded):
        patterns_of(request.query)
    accepted_but_wrong = query_request("SELECT * { a ?p ?o }")  # 'a' cannot be a subject
    assert patterns_of(accepted_but_wrong.query)
    bounded = BoundedFirstExecutor(pool.executor, published_build / "current")
    with pytest.raises(QuerySyntaxError) as here:
        pool.run(bounded.execute(accepted_but_wrong))
    with pytest.raises(QuerySyntaxError) as workers:
        pool.run(pool.executor.execute(accepted_but_wrong))
    assert here.value.message == workers.value.message


def test_the_build_statistics_bound_every_count(published_build: Path, engagement: str) -> None:
    build = open_published_build(published_build / "current")
    bounds = build.manifest["subject_bounds"]
    e = f"<{engagement}>"
    for query in (
        f"SELECT * {{ {e} ?p ?o }}",
        f"SELECT * {{ {e} a ?t ; <{DEF}startDate> ?d }}",
        f"SELECT * {{ {{ {e} ?p ?o }} UNION {{ {e} a ?o }} OPTIONAL {{ {e} ?q ?o }} }}",
        f"ASK {{ {e} <http://example.org/none> ?x }}",
    ):
        counted = rows_bound(build.store, query, 10**9)
        assert counted is not None
        assert rows_from_statistics(shape_of(query), bounds) >= counted, query
    assert (
        rows_from_statistics(shape_of(f"SELECT * {{ {e} <http://example.org/none> ?x }}"), bounds)
        == 0
    )


def test_a_construct_counts_what_it_writes(
    published_build: Path, pool: Pool, engagement: str
) -> None:
    e = f"<{engagement}>"
    one = f"CONSTRUCT {{ {e} ?p ?o }} WHERE {{ {e} ?p ?o }}"
    template = " ".join(f"{e} <http://example.org/t{i}> ?o ." for i in range(20))
    many = f"CONSTRUCT {{ {template} }} WHERE {{ {e} ?p ?o }}"
    store = open_published_build(published_build / "current").store
    rows = rows_bound(store, one, 10_000)
    assert rows is not None
    assert shape_of(many).triples_per_row == 20
    # the same rows, 20 triples each: over a budget the single template fits in
    budget = rows * 10
    _, _, answered_one = _both(published_build, pool, query_request(one), rows=budget)
    here, workers, answered_many = _both(published_build, pool, query_request(many), rows=budget)
    assert (answered_one, answered_many) == (1, 0)
    assert _content(here) == _content(workers)


def test_sixteen_patterns_and_eight_groups_are_read() -> None:
    sixteen = "SELECT * {" + " ".join(f"<http://a/e{i}> ?p ?o ." for i in range(16)) + "}"
    assert len(patterns_of(sixteen)) == 16
    eight = "SELECT * " + "{" * 8 + "<http://a/e> ?p ?o" + "}" * 8
    assert patterns_of(eight) == [Pattern("http://a/e", None, None)]
    with pytest.raises(NotBounded):
        patterns_of("SELECT * " + "{" * 9 + "<http://a/e> ?p ?o" + "}" * 9)


@pytest.fixture(scope="module")
def vocabulary(published_build: Path) -> tuple[list[str], list[str]]:
    """Subjects and predicates of the real build, for generated queries."""
    store = open_published_build(published_build / "current").store
    subjects = [
        str(row["s"].value)  # type: ignore[union-attr]
        for row in store.query(
            f"SELECT DISTINCT ?s {{ ?s a ?t FILTER(STRSTARTS(STR(?s), '{BASE_ID}')) }} "
            "ORDER BY ?s LIMIT 6",
            use_default_graph_as_union=True,
        )
    ]
    predicates = [
        str(row["p"].value)  # type: ignore[union-attr]
        for row in store.query(
            "SELECT DISTINCT ?p { ?s ?p ?o } ORDER BY ?p LIMIT 12", use_default_graph_as_union=True
        )
    ]
    return subjects, predicates


def _group(draw: st.DrawFn, subjects: list[str], predicates: list[str], depth: int) -> str:
    items = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(["triple", "triple", "optional", "union"] if depth < 3 else ["triple"])
        )
        if kind == "triple":
            subject = draw(st.sampled_from(subjects))
            predicate = draw(st.sampled_from(["?p", "?q", "a", *(f"<{p}>" for p in predicates)]))
            obj = draw(st.sampled_from(["?o", "?x", '"x"', f"<{draw(st.sampled_from(subjects))}>"]))
            items.append(f"<{subject}> {predicate} {obj} .")
        elif kind == "optional":
            items.append("OPTIONAL " + _group(draw, subjects, predicates, depth + 1))
        else:
            left = _group(draw, subjects, predicates, depth + 1)
            items.append(left + " UNION " + _group(draw, subjects, predicates, depth + 1))
    return "{ " + " ".join(items) + " }"


@st.composite
def _bounded_queries(draw: st.DrawFn, subjects: list[str], predicates: list[str]) -> str:
    return "SELECT * " + _group(draw, subjects, predicates, 0)


def test_generated_queries_never_exceed_their_bounds(
    published_build: Path, vocabulary: tuple[list[str], list[str]]
) -> None:
    """Whatever the query, the engine's rows ≤ the counted bound ≤ the statistics' bound."""
    build = open_published_build(published_build / "current")
    subjects, predicates = vocabulary
    assert subjects and predicates

    with_rows: list[int] = []

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(_bounded_queries(subjects, predicates))
    def check(query: str) -> None:
        try:
            shape = shape_of(query)
        except NotBounded:
            assume(False)  # over the reader's caps (16 patterns): refused, as it should be
            return
        counted = rows_bound(build.store, query, 10**12)
        assert counted is not None
        assume(counted <= 20_000)  # the engine's rows are listed below
        rows = len(list(build.store.query(query, use_default_graph_as_union=True)))  # type: ignore[arg-type]
        assert rows <= counted, query
        assert counted <= rows_from_statistics(shape, build.manifest["subject_bounds"]), query
        if rows:
            with_rows.append(rows)

    check()
    assert len(with_rows) >= 20  # the property was checked on queries that match
