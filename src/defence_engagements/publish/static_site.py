"""The whole publication as static files, produced by the real web app in-process.

Every file is the body the server itself answers (the app is driven through
``httpx.ASGITransport``, lifespan included), so a page on static hosting is the
page the server shows. Written:

- every resource's document in HTML and each RDF format: ``doc/{type}/{slug}.{ext}``,
  plus ``id/{type}/{slug}.html`` pointing at it, for hosts that serve ``x.html``
  for ``/x`` but cannot answer 303 (GitHub Pages, Netlify);
- the negotiated pages (``/``, ``/def``, ``/.well-known/void``, ``/dumps/``) in each
  variant the app offers, as ``{path}.{ext}`` (``index.html`` for ``/``);
- everything the pages link to on the site (styles, scripts, further pages),
  except what only a live server can answer (``/sparql``, queries with parameters);
- the dump files, ``sitemap.xml``, ``robots.txt``, and the web-server configuration
  that gives ``/id/`` its 303s and documents their content negotiation
  (``.htaccess`` for Apache, ``nginx.conf`` for nginx; see ``server_config``).

The site is written into a staging directory next to the target and swapped in
only when complete, so a failed run leaves the previous site as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.sax.saxutils import escape

import httpx
import pyoxigraph

from defence_engagements import formats
from defence_engagements.dump_files import dumps_in
from defence_engagements.errors import ConfigurationError, DataError
from defence_engagements.namespaces import ID, split_thing_iri
from defence_engagements.publish.server_config import (
    NOT_FOUND_PAGE,
    SiteLocation,
    render_htaccess,
    render_nginx,
)
from defence_engagements.store import PublishedBuild

ASGIApp = Callable[..., Any]
MARKER = ".engagements-static-site"
MISSING_SLUG = "no-such-thing-here"  # asked for to capture the app's 404 page
CONCURRENCY = 8
# Paths only a live server can answer; pages may link to them all the same.
LIVE_ONLY_PREFIXES = ("/sparql", "/health", "/version")
NEGOTIATED_PAGES = ("/", "/def", "/.well-known/void", "/dumps/")
DOCUMENT_FORMATS = (formats.HTML, *formats.GRAPH_FORMATS)
RESOURCES_QUERY = f"""
SELECT DISTINCT ?s WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?s), "{ID}")) }}
"""

Progress = Callable[[int, int], None]  # (files done, files known so far)


@dataclass
class StaticSiteReport:
    files: int = 0
    resources: int = 0
    pages: list[str] = field(default_factory=list)  # site paths of the HTML pages
    broken_links: list[str] = field(default_factory=list)  # linked from pages, not served
    elapsed: float = 0.0


def list_resources(build: PublishedBuild) -> list[tuple[str, str]]:
    """(type, slug) of every ``/id/`` IRI that is the subject of a triple."""
    solutions = build.store.query(RESOURCES_QUERY)
    assert isinstance(solutions, pyoxigraph.QuerySolutions)
    found = {split_thing_iri(solution["s"].value) for solution in solutions}
    return sorted(thing for thing in found if thing is not None)


def write_static_site(
    app: ASGIApp,
    build: PublishedBuild,
    target: Path,
    *,
    base_url: str,
    on_progress: Progress | None = None,
) -> StaticSiteReport:
    """Write the site for ``base_url`` into ``target`` (replaced as a whole)."""
    _check_target(target)
    staging = target.parent / f".{target.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        report = asyncio.run(_generate(app, build, staging, base_url, on_progress))
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _check_target(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise ConfigurationError(f"{target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not (target / MARKER).exists():
        raise ConfigurationError(
            f"{target} is not empty and was not written by `engagements publish`; "
            "choose an empty or new directory"
        )


def _swap_in(staging: Path, target: Path) -> None:
    previous = target.parent / f".{target.name}.previous-{os.getpid()}"
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)


class _SiteWriter:
    """Fetches site paths from the app and writes their bodies under ``root``."""

    def __init__(
        self, client: httpx.AsyncClient, root: Path, base_url: str, on_progress: Progress | None
    ) -> None:
        self.client = client
        self.root = root
        self.base_url = base_url
        self.base_path = urlsplit(base_url).path or "/"
        self.on_progress = on_progress
        self.report = StaticSiteReport()
        self.failures: list[str] = []
        self.crawled: set[str] = set()
        self.known = 0
        self._limit = asyncio.Semaphore(CONCURRENCY)

    def count_file(self) -> None:
        self.report.files += 1
        if self.on_progress:
            self.on_progress(self.report.files, max(self.known, self.report.files))

    def write(self, relative: str, body: bytes) -> None:
        destination = self.root / PurePosixPath(relative.lstrip("/"))
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(body)
        self.count_file()

    async def get(
        self, path: str, accept: str, *, optional: bool = False, linked: bool = False
    ) -> httpx.Response | None:
        async with self._limit:
            response = await self.client.get(path, headers={"Accept": accept})
        if optional and response.status_code in (404, 406):
            return None  # a variant or page this app does not offer
        if linked and response.status_code != 200:
            # A page links to it, yet the app does not serve it: worth a warning, but
            # the rest of the site is still right.
            self.report.broken_links.append(f"{path} → {response.status_code}")
            return None
        if response.status_code != 200:
            self.failures.append(f"GET {path} (Accept: {accept}) → {response.status_code}")
            return None
        return response

    async def fetch_as(
        self, path: str, fmt: formats.Format, destination: str, *, optional: bool = False
    ) -> bytes | None:
        response = await self.get(path, fmt.media_type, optional=optional)
        if response is None:
            return None
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if media_type not in fmt.media_types:
            return None  # the app does not offer this variant here
        self.write(destination, response.content)
        if fmt is formats.HTML:
            self.report.pages.append(path)
            self.crawled.add(path)
        return response.content

    def site_path(self, href: str, page: str) -> str | None:
        """The app path a link on ``page`` points to, if it is ours and static-able."""
        absolute = urljoin(self.base_url + page.lstrip("/"), href)
        parts = urlsplit(absolute)
        if parts.query or not absolute.startswith(self.base_url):
            return None
        path = "/" + parts.path[len(self.base_path) :]
        if path.startswith(LIVE_ONLY_PREFIXES) or path.startswith("/id/"):
            return None
        return path


async def _generate(
    app: ASGIApp,
    build: PublishedBuild,
    root: Path,
    base_url: str,
    on_progress: Progress | None,
) -> StaticSiteReport:
    started = time.monotonic()
    resources = list_resources(build)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
    async with (
        _lifespan(app) as state_app,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=state_app), base_url=origin, timeout=120
        ) as client,
    ):
        writer = _SiteWriter(client, root, base_url, on_progress)
        writer.known = len(resources) * (len(DOCUMENT_FORMATS) + 1) + 40
        jobs = [
            writer.fetch_as(
                f"/doc/{kind}/{slug}.{fmt.extension}", fmt, f"doc/{kind}/{slug}.{fmt.extension}"
            )
            for kind, slug in resources
            for fmt in DOCUMENT_FORMATS
        ]
        for page in NEGOTIATED_PAGES:
            for fmt in DOCUMENT_FORMATS:
                jobs.append(writer.fetch_as(page, fmt, _file_for(page, fmt), optional=True))
        _copy_dumps(build, writer)
        await asyncio.gather(*jobs)
        await _crawl(writer)
        # The page the server shows for an unknown thing, for the web servers' 404s.
        missing = await client.get(
            f"/doc/{resources[0][0] if resources else 'engagement'}/{MISSING_SLUG}",
            headers={"Accept": "text/html"},
        )
        not_found = missing.content
    if writer.failures:
        raise DataError(
            f"{len(writer.failures)} of the site's files could not be produced; first: "
            f"{writer.failures[0]}",
            detail="\n".join(writer.failures[:20]),
        )
    for kind, slug in resources:
        writer.write(f"id/{kind}/{slug}.html", _pointer_page(base_url, kind, slug))
    writer.write(NOT_FOUND_PAGE, not_found)
    writer.report.resources = len(resources)
    writer.write("sitemap.xml", _sitemap(base_url, writer.report.pages))
    writer.write("robots.txt", f"User-agent: *\nSitemap: {base_url}sitemap.xml\n".encode())
    location = SiteLocation(base_path=writer.base_path, root=str(root))
    writer.write(".htaccess", render_htaccess(location).encode())
    writer.write("nginx.conf", render_nginx(location).encode())
    (root / MARKER).write_text(f"{build.version}\n", encoding="utf-8")
    writer.report.elapsed = time.monotonic() - started
    return writer.report


def _file_for(page: str, fmt: formats.Format) -> str:
    if page.endswith("/"):
        return f"{page}index.{fmt.extension}"
    return f"{page}.{fmt.extension}"


async def _crawl(writer: _SiteWriter) -> None:
    """Follow the pages' links to whatever else the site is made of."""
    frontier = list(writer.crawled)
    while frontier:
        found: set[str] = set()
        for page in frontier:
            html = (writer.root / _page_file(page)).read_text(encoding="utf-8", errors="replace")
            for href in _links(html):
                path = writer.site_path(href, page)
                if path and path not in writer.crawled and not _written(writer.root, path):
                    found.add(path)
        writer.crawled |= found
        results = await asyncio.gather(*(_fetch_linked(writer, path) for path in sorted(found)))
        frontier = [path for path, is_html in zip(sorted(found), results, strict=True) if is_html]


def _page_file(page: str) -> str:
    if page.endswith("/"):
        return page.lstrip("/") + "index.html"
    if PurePosixPath(page).suffix == ".html":
        return page.lstrip("/")
    return page.lstrip("/") + ".html"


def _written(root: Path, path: str) -> bool:
    relative = path.lstrip("/")
    return (root / relative).is_file() or (root / _page_file(path)).is_file()


async def _fetch_linked(writer: _SiteWriter, path: str) -> bool:
    """Write a linked file; True when it is an HTML page to crawl further."""
    response = await writer.get(path, "text/html, */*;q=0.5", linked=True)
    if response is None:
        return False
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    is_html = media_type in formats.HTML.media_types
    has_extension = bool(PurePosixPath(path).suffix)
    if is_html:
        writer.write(_page_file(path), response.content)
        writer.report.pages.append(path)
    else:
        writer.write(
            path if has_extension else path + "." + _extension_for(media_type), response.content
        )
    return is_html


def _extension_for(media_type: str) -> str:
    for fmt in formats.ALL_FORMATS:
        if media_type in fmt.media_types:
            return fmt.extension
    return "bin"


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"href", "src"} and value and not value.startswith(("#", "mailto:")):
                self.links.append(value)


def _links(html: str) -> list[str]:
    parser = _LinkParser()
    parser.feed(html)
    return parser.links


def _copy_dumps(build: PublishedBuild, writer: _SiteWriter) -> None:
    """Each dump written out whole (the build keeps them in pieces: dump_files)."""
    target = writer.root / "dumps"
    for dump in dumps_in(build.dumps_dir):
        target.mkdir(exist_ok=True)
        if not (target / dump.name).exists():
            dump.copy_to(target / dump.name)
            writer.count_file()


def _pointer_page(base_url: str, kind: str, slug: str) -> bytes:
    document = f"{base_url}doc/{kind}/{slug}"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(kind)}/{escape(slug)}</title>"
        f'<link rel="canonical" href="{escape(document)}">'
        f'<meta http-equiv="refresh" content="0; url={escape(document)}">'
        f'</head><body><p>See <a href="{escape(document)}">{escape(document)}</a>.</p>'
        "</body></html>\n"
    ).encode()


def _sitemap(base_url: str, pages: list[str]) -> bytes:
    entries = "".join(
        f"  <url><loc>{escape(base_url + page.lstrip('/'))}</loc></url>\n"
        for page in sorted(set(pages))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{entries}</urlset>\n"
    ).encode()


@contextlib.asynccontextmanager
async def _lifespan(app: ASGIApp) -> AsyncIterator[ASGIApp]:
    """Run the app's startup and shutdown around the requests, as a server would.

    httpx.ASGITransport sends requests only; the lifespan protocol is driven here,
    and the state the app's lifespan yields is handed to each request, as
    uvicorn does.
    """
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    state: dict[str, Any] = {}
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    answer = asyncio.create_task(outbox.get())
    await asyncio.wait({answer, task}, return_when=asyncio.FIRST_COMPLETED)
    if not answer.done():  # the app ended without answering: it has no lifespan
        answer.cancel()
        task.result()
        yield app
        return
    if answer.result()["type"] == "lifespan.startup.failed":
        await task
        message = answer.result().get("message", "")
        raise ConfigurationError(f"the web app did not start: {message}")

    async def with_state(request_scope: dict[str, Any], receive: Any, send: Any) -> None:
        await app({**request_scope, "state": dict(state)}, receive, send)

    try:
        yield with_state
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task
