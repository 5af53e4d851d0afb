"""The pages in a real headless browser: Debian's chromium, driven by Playwright.

Every request the page makes is watched: anything not addressed to our server is
aborted and recorded, so "no request leaves the server" is checked, not assumed.
Screenshots go to build/screenshots/ (git-ignored) for review.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, sync_playwright

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Debian's chromium is missing: run `make browser`"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


class WatchedPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.route("**/*", self._route)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(self.base_url):
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def check(self) -> None:
        assert self.errors == []
        assert self.foreign == []


@pytest.fixture(scope="module")
def shared_page(browser: Browser, live_server) -> Iterator[WatchedPage]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    yield WatchedPage(context.new_page(), live_server.base_url)
    context.close()


@pytest.fixture
def watched(shared_page: WatchedPage) -> WatchedPage:
    """One page for the module (a new browser context per test costs seconds)."""
    shared_page.errors.clear()
    shared_page.foreign.clear()
    return shared_page


def _shot(page: Page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def _first_engagement(live_server) -> str:  # type: ignore[no-untyped-def]
    query = """PREFIX dex: <https://w3id.org/defence-engagements/def#>
    PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
    SELECT ?e WHERE { ?e a/rdfs:subClassOf* dex:Engagement ; dex:evidenceQuote ?q } ORDER BY ?e"""
    rows = httpx.get(live_server.url("sparql"), params={"query": query}).json()
    return rows["results"]["bindings"][0]["e"]["value"]


def test_home_page_loads_cleanly(watched, live_server):  # type: ignore[no-untyped-def]
    response = watched.page.goto(live_server.url(""))
    assert response is not None and response.status == 200
    assert watched.page.locator("ol.engagements li").count() >= 10
    _shot(watched.page, "home")
    watched.check()


def test_engagement_page_loads_cleanly(watched, live_server):  # type: ignore[no-untyped-def]
    iri = _first_engagement(live_server)
    response = watched.page.goto(
        live_server.url(iri.removeprefix("https://w3id.org/defence-engagements/"))
    )
    assert response is not None and response.status == 200
    assert "/doc/" in watched.page.url  # followed the 303
    assert watched.page.locator("blockquote").count() >= 1
    assert watched.page.locator("ul.participants li").count() >= 1
    _shot(watched.page, "engagement")
    watched.check()


def test_query_page_runs_a_typed_query_and_shows_the_result(watched, live_server):  # type: ignore[no-untyped-def]
    watched.page.goto(live_server.url("sparql"))
    editor = watched.page.locator("#query")
    editor.fill(
        "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
        "SELECT ?country ?name WHERE {\n"
        "  ?country a <https://w3id.org/defence-engagements/def#Country> ; rdfs:label ?name\n"
        "} ORDER BY ?name"
    )
    watched.page.locator("#run").click()
    table = watched.page.locator("table.result-table")
    table.wait_for(timeout=10_000)
    assert watched.page.locator("table.result-table th").all_inner_texts() == ["?country", "?name"]
    names = watched.page.locator("table.result-table tbody tr td:nth-child(2)").all_inner_texts()
    assert any(name.startswith("Japan") for name in names)
    assert "result" in watched.page.locator("#status").inner_text()
    _shot(watched.page, "query")
    watched.check()


def test_query_page_shows_a_syntax_error(watched, live_server):  # type: ignore[no-untyped-def]
    watched.page.goto(live_server.url("sparql"))
    watched.page.locator("#query").fill("SELECT ?s WHERE { ?s ?p }")
    watched.page.locator("#run").click()
    error = watched.page.locator("pre.error")
    error.wait_for(timeout=10_000)
    assert "400" in error.inner_text()
    # The failed fetch is logged by the browser itself; the page handled it.
    watched.errors = [e for e in watched.errors if "400" not in e]
    watched.check()


def test_example_queries_fill_the_editor(watched, live_server):  # type: ignore[no-untyped-def]
    watched.page.goto(live_server.url("sparql"))
    options = watched.page.locator("#examples option")
    if options.count() < 2:
        pytest.fail("queries/ has no example queries")
    watched.page.locator("#examples").select_option(index=1)
    assert "SELECT" in watched.page.locator("#query").input_value().upper() or "ASK" in (
        watched.page.locator("#query").input_value().upper()
    )
    watched.page.locator("#run").click()
    watched.page.locator("#results > *").first.wait_for(timeout=10_000)
    assert watched.page.locator("pre.error").count() == 0
    watched.check()


@pytest.mark.parametrize("path", ["def", "dumps/", "id/person/no-such-person"])
def test_other_pages_load_cleanly(watched, live_server, path):  # type: ignore[no-untyped-def]
    response = watched.page.goto(live_server.url(path))
    assert response is not None
    _shot(watched.page, path.strip("/").replace("/", "-"), full_page=path != "def")
    if response.status == 404:
        watched.errors = [e for e in watched.errors if "404" not in e]
    watched.check()


def test_a_shared_query_link_opens_the_page_and_runs_it(watched, live_server):  # type: ignore[no-untyped-def]
    query = "SELECT ?class WHERE { ?class a <http://www.w3.org/2002/07/owl#Class> } LIMIT 5"
    watched.page.goto(live_server.url("sparql") + "?" + urlencode({"query": query}))
    watched.page.locator("table.result-table").wait_for(timeout=10_000)
    assert watched.page.locator("#query").input_value() == query
    assert watched.page.locator("table.result-table tbody tr").count() == 5
    watched.check()
