"""A small SPARQL client for Wikidata's query service (or a stand-in for it).

It follows the service's rules for bots: a descriptive User-Agent, few and batched
queries, backing off on failures and honouring ``429 Retry-After``. Redirects are
followed only on the endpoint's own host, so a misconfigured or hostile endpoint
cannot send our requests elsewhere.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from defence_engagements.errors import EngagementsError
from defence_engagements.links.cache import ResponseCache

SPARQL_RESULTS_JSON = "application/sparql-results+json"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 5


class WikidataUnavailableError(EngagementsError):
    """The endpoint could not answer, even after retries (exit 2: environment)."""

    exit_code = 2


@dataclass(frozen=True)
class Term:
    value: str
    kind: str  # "uri", "literal", "bnode"
    language: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4
    backoff: float = 1.0  # first wait, doubled for each further retry
    max_wait: float = 120.0  # a longer Retry-After means: give up now


def batched(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + max(1, size)]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _same_origin(first: str, second: str) -> bool:
    a, b = urlsplit(first), urlsplit(second)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


class WikidataClient:
    """SELECT queries against one endpoint; answers cached on disk when a cache is given."""

    def __init__(
        self,
        endpoint: str,
        *,
        user_agent: str,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        cache: ResponseCache | None = None,
        refresh: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if urlsplit(endpoint).scheme not in {"http", "https"}:
            raise WikidataUnavailableError(f"not an HTTP(S) endpoint: {endpoint}")
        self.endpoint = endpoint
        self.retry = retry or RetryPolicy()
        self.cache = cache
        self.refresh = refresh
        self.requests_sent = 0
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": user_agent, "Accept": SPARQL_RESULTS_JSON},
        )

    def cached_entry(self, key: str) -> dict[str, Any] | None:
        """A derived answer stored under ``key`` for this endpoint (None when refreshing)."""
        return self.cache.get(self.endpoint, key) if self.cache and not self.refresh else None

    def store_entry(self, key: str, value: dict[str, Any]) -> None:
        if self.cache:
            self.cache.put(self.endpoint, key, value)

    def __enter__(self) -> WikidataClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def select(self, query: str, *, cached: bool = True) -> list[dict[str, Term]]:
        """Run a SELECT query; each row maps a bound variable to its term.

        ``cached=False`` for callers that cache what they derive themselves.
        """
        cache = self.cache if cached else None
        result = cache.get(self.endpoint, query) if cache and not self.refresh else None
        if result is None:
            result = self._fetch(query)
            if cache:
                cache.put(self.endpoint, query, result)
        return [
            {
                name: Term(term.get("value", ""), term.get("type", ""), term.get("xml:lang"))
                for name, term in row.items()
            }
            for row in result.get("results", {}).get("bindings", [])
        ]

    def _fetch(self, query: str) -> dict[str, Any]:
        failure = ""
        for attempt in range(self.retry.retries + 1):
            wait = self.retry.backoff * (2**attempt)
            try:
                response = self._post(query)
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return self._decode(response)
                failure = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUSES:
                    raise WikidataUnavailableError(
                        f"{self.endpoint} refused the query ({failure})",
                        detail=response.text[:500] or None,
                    )
                asked = parse_retry_after(response.headers.get("Retry-After"))
                if asked is not None:
                    if asked > self.retry.max_wait:
                        raise WikidataUnavailableError(
                            f"{self.endpoint} asks us to wait {asked:.0f} s (Retry-After); "
                            "try again later"
                        )
                    wait = max(wait, asked) if response.status_code != 429 else asked
            if attempt < self.retry.retries:
                self._sleep(wait)
        raise WikidataUnavailableError(
            f"{self.endpoint} did not answer after {self.retry.retries + 1} attempts "
            f"(last: {failure})"
        )

    def _post(self, query: str) -> httpx.Response:
        url = self.endpoint
        for _ in range(MAX_REDIRECTS + 1):
            self.requests_sent += 1
            response = self._http.post(url, data={"query": query})
            if not response.is_redirect:
                return response
            target = urljoin(url, response.headers.get("Location", ""))
            if not _same_origin(self.endpoint, target):
                raise WikidataUnavailableError(
                    f"{self.endpoint} redirected off its origin to {target}; not followed"
                )
            url = target
        raise WikidataUnavailableError(f"{self.endpoint}: too many redirects")

    def _decode(self, response: httpx.Response) -> dict[str, Any]:
        try:
            result = response.json()
        except ValueError as exc:
            raise WikidataUnavailableError(
                f"{self.endpoint} answered with something that is not SPARQL JSON ({exc})"
            ) from exc
        if not isinstance(result, dict) or "results" not in result:
            raise WikidataUnavailableError(f"{self.endpoint}: not a SELECT result")
        return result


def values_block(variable: str, iris: Iterable[str]) -> str:
    return f"VALUES ?{variable} {{ {' '.join(f'<{iri}>' for iri in iris)} }}"
