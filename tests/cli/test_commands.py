"""`engagements …` as a user runs it: exit codes, one-line errors, reports, no tracebacks."""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_support import REPO_ROOT, make_tree, tree_env

from defence_engagements.settings import Settings
from defence_engagements.store import open_published_build


def run(
    settings: Settings, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "defence_engagements", *args],
        cwd=settings.repo_root,
        env={**os.environ, **tree_env(settings)},
        capture_output=True,
        text=True,
        timeout=300,
        input=stdin,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "LOCK"
    }


@pytest.fixture
def built(tree: Settings) -> Settings:
    result = run(tree, "build")
    assert result.returncode == 0, result.stderr
    assert "built " in result.stdout and "inferred" in result.stdout
    return tree


def test_help_everywhere() -> None:
    from typer.testing import CliRunner

    from defence_engagements.cli import _register_commands, app

    _register_commands()
    runner = CliRunner()
    for args in (
        [],
        ["build"],
        ["validate"],
        ["query"],
        ["new", "engagement"],
        ["stats"],
        ["dump"],
        ["rollback"],
    ):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, args
    assert runner.invoke(app, ["build", "--nope"]).exit_code == 2


def test_malformed_turtle_names_location_and_keeps_previous_build(built: Settings) -> None:
    before = snapshot(built.build_path / "builds")
    target = os.readlink(built.current_build)
    broken = built.data_path / "engagements" / "first-meeting.ttl"
    text = broken.read_text()
    broken.write_text(text.replace('"First meeting"@en ;', '"First meeting@en ;'))
    result = run(built, "build")
    assert result.returncode == 1
    line = one_error_line(result)
    assert "data/engagements/first-meeting.ttl:" in line
    location = line.split("data/engagements/first-meeting.ttl:")[1].split(":")
    assert location[0].isdigit() and location[1].isdigit()  # line and column
    assert len(line.split(": ", 2)[-1]) > 3  # the parser's message
    assert snapshot(built.build_path / "builds") == before
    assert os.readlink(built.current_build) == target
    assert len(open_published_build(built.current_build).store) > 0


def test_shacl_violation_reports_file_line_shape_and_publishes_nothing(built: Settings) -> None:
    target = os.readlink(built.current_build)
    builds = sorted(p.name for p in (built.build_path / "builds").iterdir())
    bad = built.data_path / "engagements" / "third-meeting.ttl"
    bad.write_text(
        "@prefix dex: <https://w3id.org/defence-engagements/def#> .\n"
        "@prefix engagement: <https://w3id.org/defence-engagements/id/engagement/> .\n"
        "@prefix place: <https://w3id.org/defence-engagements/id/place/> .\n\n"
        "# no label, and a participant that is no agent\n"
        "engagement:third-meeting a dex:Meeting ;\n"
        "    dex:participant place:nowhere .\n"
    )
    result = run(built, "build")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "data/engagements/third-meeting.ttl:6" in result.stderr
    assert "desh:EngagementShape-label" in result.stderr
    assert "desh:EngagementShape-participant" in result.stderr
    assert "nothing was published" in result.stderr
    assert os.readlink(built.current_build) == target
    assert sorted(p.name for p in (built.build_path / "builds").iterdir()) == builds

    report = run(built, "validate", "--format", "json")
    assert report.returncode == 1
    findings = json.loads(report.stdout)["findings"]
    violations = [f for f in findings if f["severity"] == "Violation"]
    assert {(f["file"], f["line"]) for f in violations} == {
        ("data/engagements/third-meeting.ttl", 6)
    }
    assert {f["path"] for f in violations} == {"rdfs:label", "dex:participant"}
    assert any(f["value"] == "de:place/nowhere" for f in violations)


def test_warnings_fail_only_when_strict(tree: Settings) -> None:
    lenient = run(tree, "validate")
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "second-meeting.ttl:7" in lenient.stdout and "warning" in lenient.stdout
    strict = run(tree, "validate", "--strict", "data/engagements/second-meeting.ttl")
    assert strict.returncode == 1


def test_unchanged_build_says_so_and_if_stale_too(built: Settings) -> None:
    for args in (["build"], ["build", "--if-stale"]):
        result = run(built, *args)
        assert result.returncode == 0
        assert "nothing changed" in result.stdout
    quiet = run(built, "--quiet", "build", "--force")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_a_rebuild_says_how_it_had_the_inferred_graph(built: Settings) -> None:
    changed = built.data_path / "engagements" / "second-meeting.ttl"
    changed.write_text(changed.read_text().replace('"Second meeting"@en', '"Second"@en'))
    result = run(built, "build")
    assert result.returncode == 0, result.stderr
    assert "inferred (revised from the last build)" in result.stdout
    forced = run(built, "build", "--force")
    assert "inferred (as cached for these inputs)" in forced.stdout


def test_rollback_swaps_current_and_previous(built: Settings) -> None:
    first = built.current_build.resolve()
    assert run(built, "build", "--force").returncode == 0
    second = built.current_build.resolve()
    assert second != first
    result = run(built, "rollback")
    assert result.returncode == 0
    assert built.current_build.resolve() == first and built.previous_build.resolve() == second


def in_process(settings: Settings, *args: str) -> str:
    """Run a command in this process (no interpreter start-up); returns its output."""
    from typer.testing import CliRunner

    from defence_engagements.cli import _register_commands, app

    _register_commands()
    result = CliRunner().invoke(app, list(args), env=tree_env(settings))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_query_formats_and_bad_query(built: Settings) -> None:
    q = "SELECT ?m WHERE { ?m a dex:Engagement } ORDER BY ?m"  # dex:Engagement is inferred
    rows = list(csv.reader(io.StringIO(in_process(built, "query", q, "--format", "csv"))))
    assert rows[0] == ["m"] and len(rows) == 3
    as_json = json.loads(in_process(built, "query", q, "--format", "json"))
    assert len(as_json["results"]["bindings"]) == 2
    assert "engagement/first-meeting" in in_process(built, "query", q)
    query_file = built.repo_root / "q.rq"
    query_file.write_text(
        "CONSTRUCT { ?s a ?c } WHERE { GRAPH <https://w3id.org/defence-"
        "engagements/graph/inferred> { ?s a ?c } }"
    )
    turtle = in_process(built, "query", "-f", str(query_file), "--format", "turtle")
    assert "dex:Engagement" in turtle
    bad = run(built, "query", "SELEC nonsense")
    assert bad.returncode == 1
    assert "does not parse" in one_error_line(bad)
    update = run(built, "query", "INSERT DATA { <a:b> <a:c> <a:d> }")
    assert update.returncode == 1
    one_error_line(update)


def test_stats_per_graph_and_class(built: Settings) -> None:
    result = run(built, "stats", "--format", "json")
    assert result.returncode == 0
    stats = json.loads(result.stdout)
    manifest = json.loads((built.current_build / "build.json").read_text())
    assert stats["graphs"] == manifest["graphs"]
    assert stats["classes"]["https://w3id.org/defence-engagements/def#Meeting"] == 2


def test_a_dump_is_written_whole_from_its_pieces(built: Settings, tmp_path: Path) -> None:
    sums = run(built, "dump", "SHA256SUMS")
    assert sums.returncode == 0
    digests = dict(reversed(line.split("  ")) for line in sums.stdout.splitlines())
    assert len(digests) > 5
    for name in ("engagements.ttl", "engagements.nt.gz"):
        target = tmp_path / name
        assert run(built, "dump", name, "--output", str(target)).returncode == 0
        assert hashlib.sha256(target.read_bytes()).hexdigest() == digests[name]
    missing = run(built, "dump", "../build.json")
    assert missing.returncode != 0 and "engagements.ttl" in one_error_line(missing)


def test_environment_errors_are_one_line(tree: Settings, tmp_path: Path) -> None:
    no_build = run(tree, "query", "ASK {}")
    assert no_build.returncode == 2
    assert "engagements build" in one_error_line(no_build)

    dangling = tree.data_path / "gone.ttl"
    dangling.symlink_to(tmp_path / "nowhere.ttl")
    unreadable = run(tree, "build")
    assert unreadable.returncode == 2
    assert "data/gone.ttl: cannot read" in one_error_line(unreadable)
    dangling.unlink()

    tree.build_path.mkdir(parents=True, exist_ok=True)
    with (tree.build_path / ".lock").open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        locked = run(tree, "build")
    assert locked.returncode == 2
    assert "another writer" in one_error_line(locked)

    os.rename(tree.data_path, tree.repo_root / "elsewhere")
    missing = run(tree, "build")
    assert missing.returncode == 2
    assert "data directory" in one_error_line(missing)


def test_writable_store_held_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    import pyoxigraph

    from defence_engagements.errors import StoreUnavailableError
    from defence_engagements.store import open_writable_store

    path = tmp_path / "store"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import pyoxigraph, sys; s = pyoxigraph.Store({str(path)!r});"
            " print('ok', flush=True);"
            " sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(StoreUnavailableError, match="cannot open"):
            open_writable_store(path)
        assert len(pyoxigraph.Store.read_only(str(path))) == 0  # readers are not blocked
    finally:
        holder.communicate("", timeout=30)


def test_new_engagement_passes_the_real_shapes(tmp_path: Path) -> None:
    real = make_tree(tmp_path / "real", source=REPO_ROOT)
    result = run(
        real,
        "new",
        "engagement",
        "--slug",
        "2024-05-01-test-meeting",
        "--label",
        "A test meeting",
        "--class",
        "Meeting",
        "--type",
        "consult",
        "--status",
        "Held",
        "--start-date",
        "2024-05",
        "--participant",
        "person/fumio-kishida",
        "--source",
        "undated-us-japan-enhance-military-partnership",
        "--quote",
        "the decision to elevate U.S. Forces Japan",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    written = real.data_path / "engagements" / "2024-05-01-test-meeting.ttl"
    assert 'dex:startDate "2024-05"^^xsd:gYearMonth' in written.read_text()
    again = run(real, "new", "engagement", "--slug", "2024-05-01-test-meeting")
    assert again.returncode == 2 and "exists" in one_error_line(again)
    typo = run(
        real,
        "new",
        "engagement",
        "--slug",
        "x-z",
        "--label",
        "x",
        "--class",
        "Meting",
        "--type",
        "consult",
        "--status",
        "Held",
        "--start-date",
        "2024",
        "--participant",
        "person/fumio-kishida",
        "--source",
        "s",
        "--quote",
        "q",
    )
    assert typo.returncode == 2 and "--class Meting" in one_error_line(typo)
    assert not (real.data_path / "engagements" / "x-z.ttl").exists()
    incomplete = run(real, "new", "engagement", "--slug", "x-y", stdin="")
    assert incomplete.returncode == 2 and "missing" in one_error_line(incomplete)
