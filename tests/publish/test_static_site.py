"""`engagements publish --static`: the site on a plain static file server, and behind nginx
with the generated configuration, compared with what the live server answers."""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pyoxigraph
import pytest

from defence_engagements import formats
from defence_engagements.dump_files import dumps_in
from defence_engagements.namespaces import ID
from defence_engagements.publish.server_config import SiteLocation, render_nginx

from .publish_support import (
    NginxServer,
    free_port,
    make_synthetic_build,
    nginx_unavailable_reason,
)

SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def things_in(build_dir: Path) -> list[tuple[str, str]]:
    """Every /id/ resource the build describes, read straight from its store."""
    store = pyoxigraph.Store.read_only(str(build_dir / "current" / "store"))
    rows = store.query(
        f'SELECT DISTINCT ?s {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?s), "{ID}")) }}'
    )
    things = []
    for row in rows:  # type: ignore[union-attr]
        kind, _, slug = row["s"].value[len(ID) :].partition("/")
        things.append((kind, slug))
    return sorted(things)


@pytest.fixture(scope="module")
def static_site(
    served_build: Path,
    embedded_server: object,
    root_helpers: ModuleType,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The site written for the live server's URL, so every file can be compared with it."""
    site = tmp_path_factory.mktemp("static") / "site"
    result = root_helpers.run_cli(
        "publish",
        "--static",
        str(site),
        "--base-url",
        embedded_server.base_url,
        "--quiet",  # type: ignore[attr-defined]
        env={"ENGAGEMENTS_BUILD_DIR": str(served_build)},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wrote" in result.stdout
    return site


@pytest.fixture(scope="module")
def file_server(static_site: Path) -> Iterator[str]:
    """Python's plain http.server over the site: no negotiation, no redirects."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(static_site),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.get(base, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield base
    process.terminate()
    process.wait(timeout=10)


def test_every_resource_has_a_page_and_every_rdf_document(
    served_build: Path, file_server: str
) -> None:
    things = things_in(served_build)
    assert len(things) > 20
    with httpx.Client(base_url=file_server, timeout=10) as client:
        for kind, slug in things:
            page = client.get(f"doc/{kind}/{slug}.html")
            assert page.status_code == 200, (kind, slug)
            assert page.headers["content-type"].startswith("text/html")
            assert b"<html" in page.content
            for fmt in formats.GRAPH_FORMATS:
                document = client.get(f"doc/{kind}/{slug}.{fmt.extension}")
                assert document.status_code == 200, (kind, slug, fmt.name)
                subjects = {
                    quad.subject
                    for quad in pyoxigraph.parse(document.content, format=fmt.oxigraph_rdf)
                }
                assert pyoxigraph.NamedNode(f"{ID}{kind}/{slug}") in subjects, (kind, fmt.name)


def test_files_are_what_the_embedded_server_answers(
    served_build: Path, static_site: Path, embedded_server: object
) -> None:
    kind, slug = next(t for t in things_in(served_build) if t[0] == "engagement")
    samples = [
        (f"doc/{kind}/{slug}.html", f"doc/{kind}/{slug}.html", "text/html"),
        (f"doc/{kind}/{slug}.ttl", f"doc/{kind}/{slug}.ttl", "text/turtle"),
        ("index.html", "", "text/html"),
        ("def.html", "def", "text/html"),
        ("def.ttl", "def", "text/turtle"),
        (".well-known/void.ttl", ".well-known/void", "text/turtle"),
    ]
    with httpx.Client(timeout=30) as client:
        for file, path, accept in samples:
            live = client.get(embedded_server.url(path), headers={"Accept": accept})  # type: ignore[attr-defined]
            assert live.status_code == 200, path
            assert (static_site / file).read_bytes() == live.content, file


def test_sitemap_lists_every_page_and_the_dumps_are_copied(
    served_build: Path, static_site: Path, embedded_server: object
) -> None:
    sitemap = ET.parse(static_site / "sitemap.xml").getroot()
    locations = {element.text for element in sitemap.iter(f"{SITEMAP_NS}loc")}
    base = embedded_server.base_url  # type: ignore[attr-defined]
    for kind, slug in things_in(served_build):
        assert f"{base}doc/{kind}/{slug}.html" in locations
    assert base in locations
    dumps = dumps_in(served_build / "current" / "dumps")
    assert len(dumps) > 5
    for dump in dumps:  # written out whole from the build's pieces
        assert (static_site / "dumps" / dump.name).read_bytes() == dump.read_bytes()
    assert (static_site / ".htaccess").read_text().count("R=303") == 5


@pytest.fixture(scope="module")
def nginx_site(static_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reason = nginx_unavailable_reason()
    if reason:
        pytest.skip(reason)
    port = free_port()
    config = render_nginx(SiteLocation(root=str(static_site)), listen=f"127.0.0.1:{port}")
    server = NginxServer(config, tmp_path_factory.mktemp("nginx"))
    server.start(port)
    yield f"http://127.0.0.1:{port}/"
    server.stop()


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ACCEPTS = [
    BROWSER_ACCEPT,
    "text/turtle",
    "application/n-triples",
    "application/ld+json",
    "application/rdf+xml",
    "text/turtle;q=0.9, */*;q=0.1",
]


@pytest.mark.parametrize("accept", ACCEPTS)
def test_nginx_gives_the_servers_303s_and_negotiation(
    served_build: Path, nginx_site: str, embedded_server: object, accept: str
) -> None:
    things = things_in(served_build)
    with httpx.Client(timeout=10) as client:
        for kind, slug in things[:: max(1, len(things) // 15)]:
            static = client.get(f"{nginx_site}id/{kind}/{slug}", headers={"Accept": accept})
            live = client.get(embedded_server.url(f"id/{kind}/{slug}"), headers={"Accept": accept})  # type: ignore[attr-defined]
            assert static.status_code == live.status_code == 303
            assert "Accept" in static.headers["vary"]
            static_target = static.headers["location"].removeprefix(nginx_site.rstrip("/"))
            live_target = live.headers["location"].removeprefix(
                embedded_server.base_url.rstrip("/")  # type: ignore[attr-defined]
            )
            assert static_target == live_target, accept
            document = client.get(f"{nginx_site.rstrip('/')}{static_target}")
            live_document = client.get(live.headers["location"])
            assert document.status_code == 200, static_target
            assert (
                document.headers["content-type"].split(";")[0]
                == live_document.headers["content-type"].split(";")[0]
            )
            assert document.content == live_document.content
        for unknown in ("id/engagement/not-a-real-slug", "doc/engagement/not-a-real-slug"):
            static = client.get(f"{nginx_site}{unknown}", headers={"Accept": accept})
            live = client.get(embedded_server.url(unknown), headers={"Accept": accept})  # type: ignore[attr-defined]
            assert static.status_code == live.status_code == 404, unknown
        assert b"Not found" in static.content
        negotiated = client.get(f"{nginx_site}def", headers={"Accept": accept})
        assert negotiated.status_code == 200
        assert (
            negotiated.headers["content-type"].split(";")[0]
            == client.get(
                embedded_server.url("def"),
                headers={"Accept": accept},  # type: ignore[attr-defined]
            )
            .headers["content-type"]
            .split(";")[0]
        )


def test_publishing_again_replaces_the_site_and_a_foreign_directory_is_refused(
    root_helpers: ModuleType, tmp_path: Path
) -> None:
    build = make_synthetic_build(tmp_path / "build", 5)
    site = tmp_path / "site"
    env = {"ENGAGEMENTS_BUILD_DIR": str(build)}
    args = ("publish", "--static", str(site), "--base-url", "http://127.0.0.1:9/", "--quiet")
    assert root_helpers.run_cli(*args, env=env).returncode == 0
    (site / "stale.html").write_text("left over from an older build")
    again = root_helpers.run_cli(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert not (site / "stale.html").exists()
    assert (site / "doc" / "engagement" / "synthetic-3.ttl").is_file()
    assert not list(tmp_path.glob(".site.*"))  # no staging or previous copy left behind

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not ours")
    refused = root_helpers.run_cli(
        "publish", "--static", str(foreign), "--base-url", "http://127.0.0.1:9/", env=env
    )
    assert refused.returncode == 2
    assert "was not written by `engagements publish`" in refused.stderr
    assert sorted(path.name for path in foreign.iterdir()) == ["keep.txt"]
