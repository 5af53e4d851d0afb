"""`engagements push` derives `--sparql` from `--store` for the layouts the README lists.

The README table is the specification: each of its rows is parsed and checked against
:func:`derive_sparql_endpoint`, then each layout is pushed (`--check-only`) to a stub on
loopback to see where the COUNT queries really go.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pytest

from defence_engagements.publish.store_layouts import LAYOUTS, derive_sparql_endpoint

from .publish_support import REPO_ROOT

PRODUCTS = ("Oxigraph", "Fuseki", "GraphDB", "Virtuoso", "Neptune", "QLever")
ROW = re.compile(r"^\| (?P<store>[^|]+?) \| `(?P<url>[^`]+)` \| (?P<derived>[^|]+?) \|")


def readme_rows() -> list[tuple[str, str, str]]:
    """(product, --store URL, derived column) of the README's layout table."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("`--sparql` is derived from `--store` for these layouts:")
    table = text[start:].split("\n\n", 2)[1]
    rows = []
    for line in table.splitlines()[2:]:  # after the header and the |---| line
        match = ROW.match(line)
        assert match, f"not a layout row: {line}"
        rows.append((match["store"], match["url"], match["derived"]))
    return rows


ROWS = readme_rows()


def test_the_readme_table_lists_every_layout_and_qlever() -> None:
    assert [next(p for p in PRODUCTS if p in row[0]) for row in ROWS] == list(PRODUCTS)
    # One code layout per derived row, in the same order, for the same product.
    assert [layout.product.split()[0] for layout in LAYOUTS] == [
        row[0].split()[0] for row in ROWS if "QLever" not in row[0]
    ]


@pytest.mark.parametrize(("product", "store", "derived"), ROWS, ids=[r[0] for r in ROWS])
def test_the_readme_row_is_what_the_code_derives(product: str, store: str, derived: str) -> None:
    result = derive_sparql_endpoint(store)
    if "QLever" in product:
        # No fixed layout: the user must give the query endpoint.
        assert derived.startswith("give `--sparql ")
        assert result is None
        return
    assert re.fullmatch(r"`[^`]+`", derived), derived
    assert result is not None
    query_url, layout_product = result
    assert query_url == derived.strip("`")
    assert layout_product.split()[0] == product.split()[0]


# Variants of each layout a user may type: another host, https, a trailing slash, a
# reverse-proxy prefix, a query string (dropped), another dataset or repository name.
VARIANTS = [
    ("https://db.example.org/store/", "https://db.example.org/query", "Oxigraph"),
    ("http://127.0.0.1:7878/triples/store", "http://127.0.0.1:7878/triples/query", "Oxigraph"),
    (
        "https://h.example/fuseki/engagements/data/",
        "https://h.example/fuseki/engagements/sparql",
        "Fuseki",
    ),
    ("http://h:3030/ds/data?graph=default", "http://h:3030/ds/sparql", "Fuseki"),
    (
        "http://h:7200/repositories/defence-engagements/rdf-graphs/service",
        "http://h:7200/repositories/defence-engagements",
        "GraphDB",
    ),
    (
        "https://h/graphdb/repositories/r1/rdf-graphs/service/",
        "https://h/graphdb/repositories/r1",
        "GraphDB",
    ),
    ("http://h:8890/sparql-graph-crud", "http://h:8890/sparql", "Virtuoso"),
    ("http://h:8890/sparql-graph-crud-auth/?graph-uri=x", "http://h:8890/sparql", "Virtuoso"),
    (
        "https://c.cluster.neptune.amazonaws.com:8182/sparql/gsp",
        "https://c.cluster.neptune.amazonaws.com:8182/sparql",
        "Neptune",
    ),
]

UNKNOWN = [
    "http://host:7001/",  # QLever
    "http://host:7001",
    "http://host:3030/data",  # Fuseki needs a dataset before /data
    "http://host:7200/repositories/REPO",  # a query endpoint, not a Graph Store
    "http://host:7878/query",
    "http://host:7878/store/extra",
    "http://host:8890/sparql",
]


@pytest.mark.parametrize(("store", "expected", "product"), VARIANTS)
def test_each_layout_survives_the_variants_a_user_types(
    store: str, expected: str, product: str
) -> None:
    result = derive_sparql_endpoint(store)
    assert result is not None, store
    assert result[0] == expected
    assert product in result[1]


@pytest.mark.parametrize("store", UNKNOWN)
def test_an_unknown_layout_derives_nothing(store: str) -> None:
    assert derive_sparql_endpoint(store) is None


class _CountStub(BaseHTTPRequestHandler):
    """Answers every POST with a SPARQL JSON COUNT of 0 and records the path."""

    paths: list[str]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        body = json.dumps(
            {
                "head": {"vars": ["n"]},
                "results": {"bindings": [{"n": {"type": "literal", "value": "0"}}]},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def count_stub() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountStub)
    server.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _on_stub(url: str, stub: ThreadingHTTPServer) -> str:
    """The README's example URL moved to the stub (same path)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"http://127.0.0.1:{stub.server_address[1]}{path}"


@pytest.mark.parametrize(("product", "store", "derived"), ROWS, ids=[r[0] for r in ROWS])
def test_push_sends_its_count_queries_to_the_derived_endpoint(
    product: str,
    store: str,
    derived: str,
    count_stub: ThreadingHTTPServer,
    synthetic_build: Path,
    root_helpers: ModuleType,
) -> None:
    url = _on_stub(store, count_stub)
    result = root_helpers.run_cli(
        "push",
        "--check-only",
        "--quiet",
        "--store",
        url,
        env={"ENGAGEMENTS_BUILD_DIR": str(synthetic_build)},
        timeout=120,
    )
    paths = count_stub.paths  # type: ignore[attr-defined]
    if "QLever" in product:
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"cannot tell the SPARQL endpoint of {url}; give it with --sparql" in result.stderr
        assert paths == []
        # With --sparql given, the queries go exactly there.
        given = root_helpers.run_cli(
            "push",
            "--check-only",
            "--quiet",
            "--store",
            url,
            "--sparql",
            url,
            env={"ENGAGEMENTS_BUILD_DIR": str(synthetic_build)},
            timeout=120,
        )
        assert given.returncode == 1, given.stdout + given.stderr  # the stub counts 0
        assert set(paths) == {urlsplit(url).path}
        return
    # The stub counts 0 triples: the check fails (exit 1), after asking the derived URL.
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert paths and set(paths) == {urlsplit(derived.strip("`")).path or "/"}
