"""Error answers a person or a program can read, and the last line of defence.

``problem_response`` renders an RFC 9457 problem as ``application/problem+json``,
HTML or plain text, whichever the client prefers. ``LastResortMiddleware`` wraps the
whole app: whatever escapes becomes a generic 500 (the traceback goes to the server
log only), so no response ever shows a Python traceback.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from typing import Any

import mimeparse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_OFFERED = (PROBLEM_JSON, "application/json", "text/html", "text/plain")


def preferred_problem_type(accept: str | None) -> str:
    if not accept:
        return PROBLEM_JSON
    try:
        best = mimeparse.best_match(list(reversed(_OFFERED)), accept)
    except (ValueError, IndexError):
        best = ""
    if best in ("", "application/json"):
        return PROBLEM_JSON
    return best


def problem_body(
    status: int, title: str, detail: str, accept: str | None, extra: Mapping[str, Any] | None = None
) -> tuple[bytes, str]:
    """The body and its content type for a problem, in the client's preferred form."""
    media_type = preferred_problem_type(accept)
    if media_type == "text/html":
        rows = "".join(
            f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>"
            for k, v in (extra or {}).items()
        )
        page = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{status} {html.escape(title)}</title></head><body>"
            f"<h1>{status} {html.escape(title)}</h1><p>{html.escape(detail)}</p>"
            f"{f'<dl>{rows}</dl>' if rows else ''}</body></html>\n"
        )
        return page.encode(), "text/html; charset=utf-8"
    if media_type == "text/plain":
        lines = [f"{status} {title}", "", detail]
        lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
        return ("\n".join(lines) + "\n").encode(), "text/plain; charset=utf-8"
    document = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    document.update(extra or {})
    return json.dumps(document, ensure_ascii=False).encode(), PROBLEM_JSON


async def send_problem(
    send: Send,
    status: int,
    title: str,
    detail: str,
    accept: str | None,
    *,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    body, content_type = problem_body(status, title, detail, accept, extra)
    raw_headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"vary", b"Accept"),
        (b"access-control-allow-origin", b"*"),
    ]
    raw_headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class LastResortMiddleware:
    """Turns any exception that escapes the app into a readable 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                return  # an answer is already on its way; the error is logged
            await send_problem(
                send,
                500,
                "Internal Server Error",
                "The server met an unexpected error and could not answer. It has been "
                "logged; please try again, and report it if it persists.",
                header(scope, b"accept"),
            )
