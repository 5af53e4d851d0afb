"""Fixtures for the distribution tests (helpers live in publish_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from .publish_support import REPO_ROOT, OxigraphServer, make_synthetic_build


@pytest.fixture
def oxigraph_server(tmp_path: Path) -> Iterator[OxigraphServer]:
    server = OxigraphServer(tmp_path / "oxigraph", tmp_path / "oxigraph.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def synthetic_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 4,000 triples: a throttled push of it lasts seconds, a plain one a moment."""
    return make_synthetic_build(tmp_path_factory.mktemp("synthetic-build"), 1_000)


@pytest.fixture(scope="session")
def root_helpers(pytestconfig: pytest.Config) -> ModuleType:
    """tests/conftest.py as a module (run_cli, start_server…): `import conftest` would
    find this file instead, both being called conftest."""
    module = pytestconfig.pluginmanager.get_plugin(str(REPO_ROOT / "tests" / "conftest.py"))
    assert isinstance(module, ModuleType)
    return module


@pytest.fixture(scope="session")
def served_build(published_build: Path) -> Path:
    """The real build every distribution test publishes (from the root conftest)."""
    return published_build


@pytest.fixture(scope="session")
def embedded_server(live_server: object) -> object:
    """`engagements serve` over the embedded store: what every copy is compared with."""
    return live_server


@pytest.fixture(scope="session")
def pushed_store(
    served_build: Path, root_helpers: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OxigraphServer]:
    """`oxigraph serve` holding the real build, put there by `engagements push`."""
    directory = tmp_path_factory.mktemp("pushed-store")
    server = OxigraphServer(directory / "oxigraph", directory / "oxigraph.log")
    server.start()
    result = root_helpers.run_cli(
        "push",
        "--quiet",
        "--store",
        server.store_url,
        env={"ENGAGEMENTS_BUILD_DIR": str(served_build)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    yield server
    server.stop()
