"""A query executor that forwards queries to a remote SPARQL 1.1 endpoint.

The same contract as the embedded executors: the SERVICE policy is checked
before anything is sent, the time limit is a wall-clock limit on the whole
exchange, and results are written by the same writers (so ``max_rows`` and
``truncated`` mean the same thing and the bytes look the same). The remote is
asked for formats pyoxigraph parses back into terms — SPARQL JSON results and
N-Triples — and the answer is re-serialised in the format the client negotiated.

Our dataset's default graph is the union of its named graphs. Stores differ in
what their default graph is, so unless the client chose a dataset itself, each
request names it through the protocol: every graph as ``default-graph-uri`` and
as ``named-graph-uri``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pyoxigraph

from defence_engagements import formats
from defence_engagements.errors import (
    ConfigurationError,
    NotAcceptableError,
    OverloadedError,
    QueryError,
    QuerySyntaxError,
    QueryTimeoutError,
    StoreUnavailableError,
)
from defence_engagements.formats import Format, FormatKind
from defence_engagements.namespaces import GRAPH_METADATA, NAMED_GRAPHS
from defence_engagements.query import QueryRequest, QueryResponse, ResultKind
from defence_engagements.query.evaluation import response_of
from defence_engagements.query.http_auth import RemoteCredentials
from defence_engagements.query.results_writer import (
    Written,
    write_boolean,
    write_graph,
    write_solutions,
)
from defence_engagements.query.service_policy import ServicePolicy
from defence_engagements.settings import Settings
from defence_engagements.store import read_manifest

# Asked of the remote: formats that carry every term faithfully and parse fast.
OWL_VERSION_INFO = "http://www.w3.org/2002/07/owl#versionInfo"
DCTERMS_MODIFIED = "http://purl.org/dc/terms/modified"
RESULTS_WIRE_FORMAT = formats.RESULTS_JSON
GRAPH_WIRE_FORMAT = formats.NTRIPLES


class RemoteExecutor:
    """A :class:`~defence_engagements.query.QueryExecutor` over an HTTP SPARQL endpoint."""

    def __init__(
        self,
        endpoint: str,
        *,
        dataset_graphs: Sequence[str] = (),
        policy: ServicePolicy | None = None,
        auth: httpx.Auth | None = None,
        max_response_bytes: int = 256_000_000,
        user_agent: str = "defence-engagements",
    ) -> None:
        self.endpoint = endpoint
        self.dataset_graphs = tuple(dataset_graphs)
        self.policy = policy or ServicePolicy()
        self.max_response_bytes = max_response_bytes
        self._client = httpx.AsyncClient(
            auth=auth,
            follow_redirects=False,
            headers={"User-Agent": user_agent},
            # A pool sized like a worker pool: the remote store does the work.
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

    async def execute(self, request: QueryRequest) -> QueryResponse:
        self.policy.check(request.query)
        accept = _accept_header(request)
        if not accept:
            raise NotAcceptableError("none of the accepted media types can carry a query result")
        started = time.monotonic()
        try:
            async with asyncio.timeout(request.timeout):
                content_type, body = await self._fetch(request, accept)
        except TimeoutError:
            raise QueryTimeoutError(request.timeout, time.monotonic() - started) from None
        written, kind, fmt = _rewrite(content_type, body, request)
        return response_of(written, kind, fmt, started)

    async def close(self) -> None:
        await self._client.aclose()

    def _form(self, request: QueryRequest) -> list[tuple[str, str]]:
        form = [("query", request.query)]
        explicit = request.default_graph_uris or request.named_graph_uris
        defaults = request.default_graph_uris if explicit else self.dataset_graphs
        named = request.named_graph_uris if explicit else self.dataset_graphs
        form += [("default-graph-uri", iri) for iri in defaults]
        form += [("named-graph-uri", iri) for iri in named]
        return form

    async def _fetch(self, request: QueryRequest, accept: str) -> tuple[str, bytes]:
        try:
            async with self._client.stream(
                "POST",
                self.endpoint,
                content=_urlencode(self._form(request)),
                headers={
                    "Accept": accept,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                timeout=httpx.Timeout(request.timeout, connect=min(request.timeout, 10.0)),
            ) as response:
                body = await self._read_capped(response)
        except httpx.TimeoutException:
            raise TimeoutError from None
        except httpx.HTTPError as exc:
            raise StoreUnavailableError(
                f"the SPARQL backend {self.endpoint} cannot be reached: {exc}"
            ) from exc
        _raise_for_status(response, body, self.endpoint)
        return response.headers.get("Content-Type", ""), body

    async def _read_capped(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise QueryError(
                    f"the SPARQL backend's answer is larger than "
                    f"{self.max_response_bytes // 1_000_000} MB; add a LIMIT"
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _urlencode(form: list[tuple[str, str]]) -> bytes:
    return urlencode(form).encode("ascii")


def _accept_header(request: QueryRequest) -> str:
    wanted = []
    if request.results_format is not None:
        wanted.append(RESULTS_WIRE_FORMAT.media_type)
    if request.graph_format is not None:
        wanted.append(GRAPH_WIRE_FORMAT.media_type)
    if request.results_format is not None and request.graph_format is not None:
        # Results or graph: the remote knows which the query makes.
        return f"{wanted[0]}, {wanted[1]};q=0.9"
    return ", ".join(wanted)


def _raise_for_status(response: httpx.Response, body: bytes, endpoint: str) -> None:
    if response.is_success:
        return
    message = " ".join(body.decode("utf-8", "replace").split())[:2000]
    status = response.status_code
    if status == 400:
        raise QuerySyntaxError(message or "the SPARQL backend refused the query")
    if status == 406:
        raise NotAcceptableError("none of the accepted media types can carry this query's result")
    if status in (408, 504):
        raise TimeoutError
    if status in (429, 503):
        raise OverloadedError(f"the SPARQL backend is busy (HTTP {status}); try again shortly")
    raise QueryError(f"the SPARQL backend {endpoint} failed (HTTP {status}): {message}")


def _rewrite(
    content_type: str, body: bytes, request: QueryRequest
) -> tuple[Written, ResultKind, Format]:
    media_type = content_type.split(";")[0].strip().lower()
    wire = formats.by_name(media_type) if media_type else None
    if wire is None:
        raise QueryError(f"the SPARQL backend answered with an unknown type {content_type!r}")
    try:
        if wire.kind is FormatKind.RESULTS:
            parsed = pyoxigraph.parse_query_results(body, format=wire.oxigraph_results)
            fmt = _need(request.results_format)
            if isinstance(parsed, pyoxigraph.QueryBoolean):
                return write_boolean(bool(parsed), fmt), ResultKind.BOOLEAN, fmt
            return write_solutions(parsed, fmt, request.max_rows), ResultKind.SOLUTIONS, fmt
        if wire.kind in (FormatKind.GRAPH, FormatKind.DATASET):
            fmt = _need(request.graph_format)
            quads = pyoxigraph.parse(body, format=wire.oxigraph_rdf)
            triples = (quad.triple for quad in quads)
            return write_graph(triples, fmt, request.max_rows), ResultKind.GRAPH, fmt
    except (SyntaxError, ValueError) as exc:
        raise QueryError(f"the SPARQL backend's answer does not parse: {exc}") from exc
    raise QueryError(f"the SPARQL backend answered with {media_type}, not a query result")


def _need(fmt: Format | None) -> Format:
    if fmt is None:
        raise NotAcceptableError("none of the accepted media types can carry this query's result")
    return fmt


def remote_executor_for(settings: Settings, policy: ServicePolicy) -> RemoteExecutor:
    """The executor `engagements serve --sparql-backend` runs on.

    The dataset is the published build's graphs when a build is at hand (the store
    was filled by `engagements push` from it), else the contract's graphs.
    """
    if not settings.sparql_backend:
        raise ConfigurationError("no SPARQL backend is configured")
    graphs = list(NAMED_GRAPHS)
    if settings.current_build.exists():
        try:
            listed = read_manifest(settings.current_build.resolve()).get("graphs") or {}
        except StoreUnavailableError:
            listed = {}
        graphs += sorted(set(listed) - set(graphs))
    return RemoteExecutor(
        settings.sparql_backend,
        dataset_graphs=graphs,
        policy=policy,
        auth=_backend_auth(settings),
        user_agent=settings.user_agent,
    )


def remote_build_reader_for(settings: Settings) -> RemoteBuildReader:
    """What `serve --sparql-backend` reports as its build when there is no local one."""
    if not settings.sparql_backend:
        raise ConfigurationError("no SPARQL backend is configured")
    return RemoteBuildReader(
        settings.sparql_backend, auth=_backend_auth(settings), user_agent=settings.user_agent
    )


def _backend_auth(settings: Settings) -> httpx.Auth | None:
    return RemoteCredentials(
        user=settings.sparql_backend_user,
        password_env=settings.sparql_backend_password_env,
        token_env=settings.sparql_backend_token_env,
    ).to_auth()


@dataclass(frozen=True)
class RemoteBuild:
    """What a remote store says about the build it holds (from its metadata graph)."""

    version: str
    built_at: str
    graphs: dict[str, int]


class RemoteBuildReader:
    """Reads the pushed build's version from the store, for servers with no local build.

    The version (``owl:versionInfo`` in graph/metadata, written by the build) keys
    the ETags, so it is re-read every ``ttl`` seconds: a new push is noticed without
    a restart. Graph sizes are counted only when the version changes.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        auth: httpx.Auth | None = None,
        ttl: float = 30.0,
        timeout: float = 10.0,
        user_agent: str = "defence-engagements",
    ) -> None:
        self.endpoint = endpoint
        self.ttl = ttl
        self._client = httpx.Client(auth=auth, timeout=timeout, headers={"User-Agent": user_agent})
        self._lock = threading.Lock()
        self._cached: tuple[float, RemoteBuild] | None = None

    def current(self) -> RemoteBuild:
        with self._lock:
            now = time.monotonic()
            if self._cached and now - self._cached[0] < self.ttl:
                return self._cached[1]
            version, built_at = self._version()
            if self._cached and self._cached[1].version == version:
                build = self._cached[1]
            else:
                build = RemoteBuild(version, built_at, self._counts())
            self._cached = (now, build)
            return build

    def _select(self, query: str) -> list[dict[str, str]]:
        try:
            response = self._client.post(
                self.endpoint,
                data={"query": query},
                headers={"Accept": formats.RESULTS_JSON.media_type},
            )
            response.raise_for_status()
            bindings = response.json()["results"]["bindings"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise StoreUnavailableError(
                f"cannot read the build's description from {self.endpoint}: {exc}"
            ) from exc
        return [{name: term["value"] for name, term in row.items()} for row in bindings]

    def _version(self) -> tuple[str, str]:
        rows = self._select(
            f"SELECT ?version ?modified WHERE {{ GRAPH <{GRAPH_METADATA}> {{ "
            f"?dataset <{OWL_VERSION_INFO}> ?version "
            f"OPTIONAL {{ ?dataset <{DCTERMS_MODIFIED}> ?modified }} }} }} LIMIT 1"
        )
        if not rows:
            raise StoreUnavailableError(
                f"{self.endpoint} holds no build description (graph/metadata); "
                "run `engagements push` to it"
            )
        return rows[0]["version"], rows[0].get("modified", "")

    def _counts(self) -> dict[str, int]:
        values = " ".join(f"<{iri}>" for iri in NAMED_GRAPHS)
        rows = self._select(
            f"SELECT ?g (COUNT(*) AS ?n) WHERE {{ VALUES ?g {{ {values} }} "
            "GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
        )
        return {row["g"]: int(row["n"]) for row in rows}
