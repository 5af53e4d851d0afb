"""``/archive/{file}``: the archived texts of the source documents, the evidence itself.

Sources point at their archived copy (``dex:archivedText``, IRIs under
``…/archive/``); every quote occurs verbatim in one. They are served as plain text
from ``data/sources/text/`` so quotes can link to the passage they come from.
"""

from __future__ import annotations

import hashlib
import re

from starlette.requests import Request
from starlette.responses import Response

from defence_engagements.web.caching import matches_if_none_match
from defence_engagements.web.context import WebContext
from defence_engagements.web.errors import NotFoundError, error_response

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.txt$")


async def archived_text(request: Request) -> Response:
    context: WebContext = request.app.state.context
    name = request.path_params["name"]
    directory = context.settings.data_path / "sources" / "text"
    path = directory / name
    if not _SAFE_NAME.match(name) or not path.is_file():
        return error_response(request, NotFoundError(f"no archived source text is called {name!r}"))
    body = path.read_bytes()
    etag = f'"{hashlib.sha256(body).hexdigest()[:40]}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=3600",
        "Access-Control-Allow-Origin": "*",
    }
    if matches_if_none_match(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, headers=headers, media_type="text/plain; charset=utf-8")
