"""Push every named graph of the published build to a remote SPARQL 1.1 store.

Each graph goes up as streamed N-Triples with ``PUT ?graph=<iri>`` (see
``graph_store``); afterwards each graph's ``COUNT`` over the store's SPARQL
endpoint must equal the local count, or the push has failed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import httpx
import pyoxigraph

from defence_engagements import formats
from defence_engagements.namespaces import NAMED_GRAPHS
from defence_engagements.publish.graph_store import GraphStoreClient, RemoteStoreError
from defence_engagements.store import PublishedBuild

BATCH_TRIPLES = 10_000
COUNT_QUERY = "SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}"

# (graph IRI, triples of the whole push sent so far)
PushProgress = Callable[[str, int], None]


@dataclass(frozen=True)
class GraphCount:
    iri: str
    local: int
    remote: int | None  # None until checked

    @property
    def matches(self) -> bool:
        return self.local == self.remote


@dataclass(frozen=True)
class PushReport:
    graphs: tuple[GraphCount, ...]
    compressed: bool
    elapsed: float

    @property
    def triples(self) -> int:
        return sum(graph.local for graph in self.graphs)


def graphs_to_push(build: PublishedBuild) -> list[str]:
    """The contract's graphs, then any other graph the build holds.

    Contract graphs are sent even when empty, so a graph emptied locally is
    emptied on the store too instead of keeping stale triples.
    """
    held = {
        graph.value
        for graph in build.store.named_graphs()
        if isinstance(graph, pyoxigraph.NamedNode)
    }
    listed = set(build.manifest.get("graphs", {}))
    extra = sorted((held | listed) - set(NAMED_GRAPHS))
    return [*NAMED_GRAPHS, *extra]


def local_count(store: pyoxigraph.Store, graph_iri: str) -> int:
    result = store.query(COUNT_QUERY.format(iri=graph_iri))
    assert isinstance(result, pyoxigraph.QuerySolutions)
    return int(next(iter(result))["n"].value)


def ntriples_chunks(
    store: pyoxigraph.Store, graph_iri: str, batch: int = BATCH_TRIPLES
) -> Iterator[tuple[bytes, int]]:
    """The graph as N-Triples, a batch at a time: memory stays flat whatever its size."""
    quads = store.quads_for_pattern(None, None, None, pyoxigraph.NamedNode(graph_iri))
    triples = (quad.triple for quad in quads)
    while chunk := list(itertools.islice(triples, batch)):
        yield pyoxigraph.serialize(chunk, format=pyoxigraph.RdfFormat.N_TRIPLES), len(chunk)


def push_build(
    build: PublishedBuild,
    client: GraphStoreClient,
    counter: RemoteCounter,
    *,
    on_progress: PushProgress | None = None,
) -> PushReport:
    """Replace every graph on the store, then compare counts; raises RemoteStoreError."""
    started = time.monotonic()
    local = {iri: local_count(build.store, iri) for iri in graphs_to_push(build)}
    done = 0
    for iri, count in local.items():

        def report(sent: int, iri: str = iri, before: int = done) -> None:
            if on_progress:
                on_progress(iri, before + sent)

        client.replace_graph(
            iri,
            lambda iri=iri: ntriples_chunks(build.store, iri),
            media_type=formats.NTRIPLES.media_type,
            on_progress=report,
        )
        done += count
    counts = check_counts(counter, local)
    return PushReport(counts, client.compresses, time.monotonic() - started)


def check_counts(counter: RemoteCounter, local: dict[str, int]) -> tuple[GraphCount, ...]:
    """Each graph's remote COUNT next to the local one; raises on any difference."""
    counts = tuple(GraphCount(iri, n, counter.count(iri)) for iri, n in local.items())
    wrong = [graph for graph in counts if not graph.matches]
    if wrong:
        raise RemoteStoreError(
            "the store's counts differ from the build: "
            + "; ".join(f"<{g.iri}> has {g.remote} triples, expected {g.local}" for g in wrong),
            detail=f"checked over {counter.endpoint}",
        )
    return counts


class RemoteCounter:
    """Counts a graph's triples over a remote SPARQL endpoint."""

    def __init__(
        self,
        endpoint: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: float = 300.0,
        user_agent: str = "defence-engagements",
    ) -> None:
        self.endpoint = endpoint
        self._client = httpx.Client(
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=10.0),
            headers={"User-Agent": user_agent},
        )

    def close(self) -> None:
        self._client.close()

    def count(self, graph_iri: str) -> int:
        try:
            response = self._client.post(
                self.endpoint,
                data={"query": COUNT_QUERY.format(iri=graph_iri)},
                headers={"Accept": formats.RESULTS_JSON.media_type},
            )
        except httpx.HTTPError as exc:
            raise RemoteStoreError(
                f"cannot count graph <{graph_iri}> over {self.endpoint}: {exc}"
            ) from exc
        if not response.is_success:
            text = " ".join(response.text.split())[:200]
            raise RemoteStoreError(
                f"the SPARQL endpoint {self.endpoint} answered HTTP {response.status_code} "
                f"to a COUNT query: {text}"
            )
        return _single_integer(response, self.endpoint)


def _single_integer(response: httpx.Response, endpoint: str) -> int:
    try:
        bindings: Iterable[dict[str, dict[str, str]]] = response.json()["results"]["bindings"]
        first = next(iter(bindings), {})
        return int(first["n"]["value"]) if "n" in first else 0
    except (ValueError, KeyError, TypeError) as exc:
        raise RemoteStoreError(
            f"the SPARQL endpoint {endpoint} did not answer a COUNT query with SPARQL JSON "
            f"results ({exc}); is --sparql the query endpoint?"
        ) from exc
