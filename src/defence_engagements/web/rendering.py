"""HTML rendering: one Jinja2 environment over ``templates/`` (partials are ``_name.html``)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from defence_engagements.web.caching import READ_HEADERS

_environment = Environment(
    loader=PackageLoader("defence_engagements.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(template: str, values: dict[str, Any]) -> str:
    return _environment.get_template(template).render(**values)


def render_page(
    request: Request,
    template: str,
    values: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    context = request.app.state.context
    page = render_html(
        template,
        {
            "base": context.urls.serving_base,
            "url": context.urls.url,
            "link": context.urls.to_serving,
            "path": request.url.path,
            **values,
        },
    )
    return HTMLResponse(
        page,
        status_code=status_code,
        headers={**READ_HEADERS, "Cache-Control": "no-cache", **(headers or {})},
    )
