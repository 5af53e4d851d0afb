"""HTTP caching tied to the build: ETags from the build version, 304 on If-None-Match.

Everything we serve is a function of the published build and the request, so an
ETag is a hash of the build version and what selects the representation. A new
build changes every ETag; clients revalidate cheaply in between.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

CACHE_CONTROL = "public, max-age=60, must-revalidate"
READ_HEADERS = {"Vary": "Accept", "Access-Control-Allow-Origin": "*"}


def build_etag(version: str, *parts: str) -> str:
    """Weak, and the only weak ETags we make: web/front_cache.py keeps an answer only
    when its ETag is weak, that is, when it is a function of the build and the request."""
    digest = hashlib.sha256("\x1f".join((version, *parts)).encode("utf-8", "surrogatepass"))
    return f'W/"{digest.hexdigest()[:32]}"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def matches_if_none_match(request: Request, etag: str) -> bool:
    """Weak comparison, as RFC 9110 prescribes for If-None-Match."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    return _opaque(etag) in {_opaque(candidate) for candidate in header.split(",")}


def not_modified(etag: str, extra: dict[str, str] | None = None) -> Response:
    headers = {**READ_HEADERS, "ETag": etag, "Cache-Control": CACHE_CONTROL, **(extra or {})}
    return Response(status_code=304, headers=headers)


def cached_headers(etag: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**READ_HEADERS, "ETag": etag, "Cache-Control": CACHE_CONTROL, **(extra or {})}
