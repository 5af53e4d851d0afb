"""A client for the SPARQL 1.1 Graph Store HTTP Protocol: replace a named graph by PUT.

``PUT <store>?graph=<iri>`` replaces the graph's content, so sending the same
graph twice leaves the store as it was. Bodies are streamed (the graph is never
held in memory), gzip-compressed while the store accepts it, and each request is
retried with exponential backoff on network failures and 5xx/408/429 answers.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum

import httpx

from defence_engagements.errors import EngagementsError

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# A store that cannot read gzip bodies says so with 415 (as the protocol asks) or,
# having tried to parse the compressed bytes as RDF, with 400.
COMPRESSION_REFUSED_STATUSES = frozenset({400, 415})
MAX_BACKOFF = 30.0
THROTTLE_PIECE = 16_384


class RemoteStoreError(EngagementsError):
    """The remote store could not be reached, refused a request, or disagrees (exit 1)."""

    exit_code = 1


class Compression(Enum):
    AUTO = "auto"  # gzip, falling back to identity for good once the store refuses it
    GZIP = "gzip"
    NONE = "none"


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    attempts: int = 4  # in total, so 1 means no retry
    backoff: float = 0.5  # first wait in seconds, doubled after each failure

    def wait_before(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before ``attempt`` (2, 3, …)."""
        computed = min(self.backoff * 2 ** (attempt - 2), MAX_BACKOFF)
        return max(computed, min(retry_after or 0.0, MAX_BACKOFF))


# A body source yields (bytes, triples in those bytes); it is called once per attempt.
BodySource = Callable[[], Iterator[tuple[bytes, int]]]
ProgressCallback = Callable[[int], None]  # triples of the current graph sent so far


class GraphStoreClient:
    """Replaces named graphs on one Graph Store Protocol endpoint."""

    def __init__(
        self,
        store_url: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: float = 300.0,
        retry: RetryPolicy | None = None,
        compression: Compression = Compression.AUTO,
        bytes_per_second: float | None = None,
        user_agent: str = "defence-engagements",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store_url = store_url
        self.retry = retry or RetryPolicy()
        self.compression = compression
        self.bytes_per_second = bytes_per_second
        self._sleep = sleep
        self._client = httpx.Client(
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=10.0),
            follow_redirects=False,
            headers={"User-Agent": user_agent},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GraphStoreClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def compresses(self) -> bool:
        return self.compression is not Compression.NONE

    def replace_graph(
        self,
        graph_iri: str,
        body: BodySource,
        *,
        media_type: str,
        on_progress: ProgressCallback | None = None,
    ) -> int:
        """PUT the graph; returns the store's status code, raises RemoteStoreError."""
        attempt = 1
        while True:
            compressed = self.compresses
            try:
                response = self._put(graph_iri, body, media_type, compressed, on_progress)
            except httpx.TransportError as exc:
                failure = _describe_transport_error(exc)
                retry_after = None
            else:
                if response.is_success:
                    return response.status_code
                if (
                    compressed
                    and self.compression is Compression.AUTO
                    and response.status_code in COMPRESSION_REFUSED_STATUSES
                ):
                    # Not a failed attempt: the store told us how it wants the body.
                    self.compression = Compression.NONE
                    continue
                failure = _describe_response(response)
                if response.status_code not in RETRYABLE_STATUSES:
                    raise RemoteStoreError(
                        f"the store refused graph <{graph_iri}>: {failure}",
                        detail=f"PUT {self.store_url}?graph={graph_iri}",
                    )
                retry_after = _retry_after_seconds(response)
            if attempt >= self.retry.attempts:
                raise RemoteStoreError(
                    f"could not upload graph <{graph_iri}> to {self.store_url}: {failure} "
                    f"(gave up after {attempt} attempt{'s' if attempt > 1 else ''})"
                )
            attempt += 1
            self._sleep(self.retry.wait_before(attempt, retry_after))

    def _put(
        self,
        graph_iri: str,
        body: BodySource,
        media_type: str,
        compressed: bool,
        on_progress: ProgressCallback | None,
    ) -> httpx.Response:
        # One connection per graph: a store that stops reading a chunked gzip body at
        # the end of the gzip stream (Oxigraph 0.5 does) would otherwise read the
        # leftover chunk trailer as the start of the next request on the connection.
        headers = {"Content-Type": media_type, "Connection": "close"}
        if compressed:
            headers["Content-Encoding"] = "gzip"
        content = self._wire_bytes(body(), compressed, on_progress)
        return self._client.put(
            self.store_url, params={"graph": graph_iri}, headers=headers, content=content
        )

    def _wire_bytes(
        self,
        chunks: Iterator[tuple[bytes, int]],
        compressed: bool,
        on_progress: ProgressCallback | None,
    ) -> Iterator[bytes]:
        if on_progress:
            on_progress(0)
        sent_triples = 0
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31) if compressed else None
        throttle = _Throttle(self.bytes_per_second, self._sleep)
        for data, triples in chunks:
            wire = compressor.compress(data) if compressor else data
            yield from throttle.pace(wire)
            sent_triples += triples
            if on_progress:
                on_progress(sent_triples)
        if compressor:
            yield from throttle.pace(compressor.flush())


class _Throttle:
    """Keeps the upload under a byte rate, for stores sharing a thin link."""

    def __init__(self, bytes_per_second: float | None, sleep: Callable[[float], None]) -> None:
        self._rate = bytes_per_second
        self._sleep = sleep
        self._start = time.monotonic()
        self._sent = 0

    def pace(self, data: bytes) -> Iterable[bytes]:
        if not data:
            return
        if not self._rate:
            yield data
            return
        for offset in range(0, len(data), THROTTLE_PIECE):
            piece = data[offset : offset + THROTTLE_PIECE]
            self._sent += len(piece)
            ahead = self._sent / self._rate - (time.monotonic() - self._start)
            if ahead > 0:
                self._sleep(ahead)
            yield piece


def _describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"the connection failed ({type(exc).__name__}: {exc})"


def _describe_response(response: httpx.Response) -> str:
    text = " ".join(response.text.split())[:200]
    reason = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    return f"{reason}: {text}" if text else reason


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None
