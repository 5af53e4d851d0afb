"""Fixtures for the web tests: a real `engagements serve` process over the real build.

``site`` is the session's ``live_server`` (tests/conftest.py). The W3C protocol
manifest needs its own data, so ``w3c_site`` serves a build holding the manifest's
graphs, made in the real layout by ``w3c_build``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from .tiny_build import publish_graphs_build

REPO_ROOT = Path(__file__).resolve().parents[2]
W3C_PROTOCOL = REPO_ROOT.parent / "shared" / "w3c" / "protocol"


@pytest.fixture(scope="session")
def root_helpers(pytestconfig: pytest.Config) -> ModuleType:
    """tests/conftest.py as a module (start_server, stop_server…)."""
    module = pytestconfig.pluginmanager.get_plugin(str(REPO_ROOT / "tests" / "conftest.py"))
    assert isinstance(module, ModuleType)
    return module


@pytest.fixture(scope="session")
def site(live_server):  # type: ignore[no-untyped-def]
    return live_server


@pytest.fixture(scope="session")
def build_root(published_build: Path) -> Path:
    """The resolved directory of the build the site serves (store, dumps, build.json)."""
    return (published_build / "current").resolve()


@pytest.fixture(scope="session")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, follow_redirects=False) as session:
        yield session


@pytest.fixture(scope="session")
def w3c_site(tmp_path_factory: pytest.TempPathFactory, root_helpers: ModuleType):  # type: ignore[no-untyped-def]
    build_dir = tmp_path_factory.mktemp("w3c-build")
    publish_graphs_build(
        build_dir,
        {
            f"http://kasei.us/2009/09/sparql/data/data{n}.rdf": [W3C_PROTOCOL / f"data{n}.nt"]
            for n in (1, 2, 3)
        },
    )
    log = tmp_path_factory.mktemp("w3c-server") / "server.log"
    server = root_helpers.start_server(build_dir, log=log)
    yield server
    root_helpers.stop_server(server)


@pytest.fixture(scope="session")
def build_manifest(build_root: Path) -> dict:  # type: ignore[type-arg]
    import json

    return json.loads((build_root / "build.json").read_text(encoding="utf-8"))
