"""`engagements push` against a real `oxigraph serve` process on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from defence_engagements.namespaces import GRAPH_LINKS, NAMED_GRAPHS

from .publish_support import (
    REPO_ROOT,
    NginxServer,
    OxigraphServer,
    free_port,
    nginx_unavailable_reason,
)


def manifest_counts(build_dir: Path) -> dict[str, int]:
    manifest = json.loads((build_dir / "current" / "build.json").read_text(encoding="utf-8"))
    return {iri: manifest["graphs"].get(iri, 0) for iri in NAMED_GRAPHS}


def push(root_helpers: ModuleType, build_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return root_helpers.run_cli(
        "push", *args, env={"ENGAGEMENTS_BUILD_DIR": str(build_dir)}, timeout=120
    )


def test_push_uploads_every_graph_with_equal_counts_and_is_idempotent(
    synthetic_build: Path, oxigraph_server: OxigraphServer, root_helpers: ModuleType
) -> None:
    first = push(root_helpers, synthetic_build, "--store", oxigraph_server.store_url)
    assert first.returncode == 0, first.stderr
    assert "counts match" in first.stdout and "(gzip)" in first.stdout
    expected = manifest_counts(synthetic_build)
    assert all(count > 0 for count in expected.values())
    assert {iri: oxigraph_server.count(iri) for iri in NAMED_GRAPHS} == expected
    before = oxigraph_server.dataset()

    second = push(
        root_helpers, synthetic_build, "--store", oxigraph_server.store_url, "--compression", "none"
    )
    assert second.returncode == 0, second.stderr
    assert "(gzip)" not in second.stdout
    assert oxigraph_server.dataset() == before


def test_a_push_killed_mid_way_fails_clearly_and_a_later_push_repairs_the_store(
    synthetic_build: Path, oxigraph_server: OxigraphServer, root_helpers: ModuleType
) -> None:
    # Uncompressed and throttled, so the upload lasts seconds and the kill lands inside it.
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "defence_engagements",
            "push",
            "--quiet",
            "--store",
            oxigraph_server.store_url,
            "--compression",
            "none",
            "--bwlimit",
            "48",
            "--retries",
            "1",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "ENGAGEMENTS_BUILD_DIR": str(synthetic_build)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    assert process.poll() is None, "the push ended before the store could be killed"
    oxigraph_server.kill()
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stdout + stderr
    assert stderr.startswith("error: could not upload graph <"), stderr
    assert "gave up after 2 attempts" in stderr
    assert "Traceback" not in stderr

    oxigraph_server.start()
    repaired = push(root_helpers, synthetic_build, "--store", oxigraph_server.store_url, "--quiet")
    assert repaired.returncode == 0, repaired.stderr
    assert {iri: oxigraph_server.count(iri) for iri in NAMED_GRAPHS} == manifest_counts(
        synthetic_build
    )


def test_check_only_reports_a_graph_that_differs(
    synthetic_build: Path, oxigraph_server: OxigraphServer, root_helpers: ModuleType
) -> None:
    assert (
        push(
            root_helpers, synthetic_build, "--store", oxigraph_server.store_url, "--quiet"
        ).returncode
        == 0
    )
    assert (
        push(
            root_helpers, synthetic_build, "--store", oxigraph_server.store_url, "--check-only"
        ).returncode
        == 0
    )
    httpx.delete(oxigraph_server.store_url, params={"graph": GRAPH_LINKS}).raise_for_status()
    result = push(
        root_helpers, synthetic_build, "--store", oxigraph_server.store_url, "--check-only"
    )
    assert result.returncode == 1
    assert f"<{GRAPH_LINKS}> has 0 triples, expected 1" in result.stderr
    assert result.stderr.count("error:") == 1


def test_an_unreachable_store_is_one_line_and_exit_1(
    synthetic_build: Path, root_helpers: ModuleType
) -> None:
    port = root_helpers.free_port()
    result = push(
        root_helpers,
        synthetic_build,
        "--store",
        f"http://127.0.0.1:{port}/store",
        "--retries",
        "0",
        "--quiet",
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: could not upload graph <")
    assert "cannot connect" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--token-env", "ENGAGEMENTS_TEST_UNSET_TOKEN"),
            "environment variable ENGAGEMENTS_TEST_UNSET_TOKEN is not set",
        ),
        (("--password-env", "X"), "--password-env needs --user"),
        (("--sparql", "http://127.0.0.1:9/q", "--store", "http://127.0.0.1:9/elsewhere"), None),
    ],
)
def test_bad_options_exit_2(
    synthetic_build: Path, root_helpers: ModuleType, args: tuple[str, ...], message: str | None
) -> None:
    if message is None:  # an unknown layout without --sparql
        result = push(root_helpers, synthetic_build, "--store", "http://127.0.0.1:9/elsewhere")
        message = "cannot tell the SPARQL endpoint of http://127.0.0.1:9/elsewhere"
    else:
        result = push(root_helpers, synthetic_build, "--store", "http://127.0.0.1:9/store", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_the_real_build_is_on_the_store_graph_for_graph(
    served_build: Path, pushed_store: OxigraphServer
) -> None:
    expected = manifest_counts(served_build)
    assert expected[NAMED_GRAPHS[1]] > 500  # graph/data holds the real data
    assert {iri: pushed_store.count(iri) for iri in NAMED_GRAPHS} == expected


@pytest.fixture
def guarded_store(oxigraph_server: OxigraphServer, tmp_path: Path) -> Iterator[str]:
    """nginx in front of the store: HTTP Basic required, gzip bodies refused with 415
    (as stores that cannot read them answer)."""
    reason = nginx_unavailable_reason()
    if reason:
        pytest.skip(reason)
    port = free_port()
    (tmp_path / "htpasswd").write_text("pusher:{PLAIN}s3cret\n")
    config = f"""
server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    location / {{
        if ($http_content_encoding ~* gzip) {{
            return 415;
        }}
        auth_basic "store";
        auth_basic_user_file {tmp_path / "htpasswd"};
        proxy_pass {oxigraph_server.base_url};
        proxy_http_version 1.1;
        proxy_request_buffering off;
    }}
}}
"""
    server = NginxServer(config, tmp_path / "nginx")
    server.start(port)
    yield f"http://127.0.0.1:{port}/store"
    server.stop()


def test_push_authenticates_and_falls_back_to_identity_when_gzip_is_refused(
    synthetic_build: Path,
    oxigraph_server: OxigraphServer,
    guarded_store: str,
    root_helpers: ModuleType,
) -> None:
    denied = push(root_helpers, synthetic_build, "--store", guarded_store, "--quiet")
    assert denied.returncode == 1
    assert "HTTP 401" in denied.stderr and denied.stderr.startswith("error: the store refused")

    pushed = root_helpers.run_cli(
        "push",
        "--store",
        guarded_store,
        "--user",
        "pusher",
        "--password-env",
        "STORE_PASSWORD",
        env={"ENGAGEMENTS_BUILD_DIR": str(synthetic_build), "STORE_PASSWORD": "s3cret"},
        timeout=120,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert "counts match" in pushed.stdout and "(gzip)" not in pushed.stdout
    assert {iri: oxigraph_server.count(iri) for iri in NAMED_GRAPHS} == manifest_counts(
        synthetic_build
    )
