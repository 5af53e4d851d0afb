"""Listing the source files: which files count, in what order, under which names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from defence_engagements.errors import ConfigurationError
from defence_engagements.pipeline.parse import display_name, list_sources


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    data = root / "data"
    for relative in (
        "a.ttl",
        "a/x.ttl",
        "a-b/x.ttl",  # "-" sorts before "/" as text, after "a" as a path part
        "a/b/deep.ttl",
        ".hidden/h.ttl",
        "notes.txt",
        "b.TTL",  # the pattern is case-sensitive, as on every POSIX glob
    ):
        path = data / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# empty\n", encoding="utf-8")
    (data / "folder.ttl").mkdir()  # a directory named like a source is not one
    (data / "folder.ttl" / "inside.ttl").write_text("# empty\n", encoding="utf-8")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "linked.ttl").write_text("# empty\n", encoding="utf-8")
    (outside / "sub").mkdir()
    (outside / "sub" / "through-dir.ttl").write_text("# empty\n", encoding="utf-8")
    (data / "link.ttl").symlink_to(outside / "linked.ttl")
    (data / "dangling.ttl").symlink_to(tmp_path / "nowhere.ttl")
    (data / "linked-dir").symlink_to(outside / "sub", target_is_directory=True)
    return root


def relative(paths: list[Path], base: Path) -> list[str]:
    return [path.relative_to(base).as_posix() for path in paths]


def discover(directory: Path, root: Path, role: str, *, recursive: bool) -> list[Path]:
    listed = list_sources(directory, root, role, recursive=recursive)
    paths = [Path(path) for path, _ in listed]
    # Each listed file's name is the name display_name gives it.
    assert [name for _, name in listed] == [display_name(path, root) for path in paths]
    return paths


def test_recursive_listing_counts_files_and_symlinks_not_linked_directories(tree: Path) -> None:
    data = tree / "data"
    found = discover(data, tree, "data", recursive=True)
    assert relative(found, data) == [
        ".hidden/h.ttl",
        "a/b/deep.ttl",
        "a/x.ttl",
        "a-b/x.ttl",
        "a.ttl",
        "dangling.ttl",
        "folder.ttl/inside.ttl",
        "link.ttl",
    ]
    # The order is the order paths sort in (part by part), whatever the text says.
    assert found == sorted(found)
    assert all(isinstance(path, Path) and path.is_absolute() for path in found)


def test_flat_listing_stays_in_the_directory(tree: Path) -> None:
    data = tree / "data"
    found = discover(data, tree, "ontology", recursive=False)
    assert relative(found, data) == ["a.ttl", "dangling.ttl", "link.ttl"]
    listed = dict(list_sources(data, tree, "ontology", recursive=False))
    assert listed[str(data / "a.ttl")] == "data/a.ttl"
    assert listed[str(data / "link.ttl")] == str(data / "link.ttl")  # leads outside the repository


def test_a_missing_directory_is_named(tree: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"shapes directory missing does not exist"):
        discover(tree / "missing", tree, "shapes", recursive=False)


def test_display_name_resolves_symlinks_and_keeps_outside_paths(tree: Path) -> None:
    data = tree / "data"
    names = [
        display_name(path, tree)
        for path in (data / "a" / "x.ttl", data / "link.ttl", data / "dangling.ttl", tree)
    ]
    # A symlink is named by where it leads: outside the repository, by the path given.
    assert names == ["data/a/x.ttl", str(data / "link.ttl"), str(data / "dangling.ttl"), "."]


def test_display_name_of_a_relative_path_and_through_a_linked_root(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tree)
    assert display_name(Path("data/a/x.ttl"), tree) == "data/a/x.ttl"
    assert display_name(Path("notes.ttl"), tree) == "notes.ttl"
    alias = tmp_path / "alias"
    alias.symlink_to(tree, target_is_directory=True)
    assert display_name(alias / "data" / "a.ttl", tree) == "data/a.ttl"
    assert display_name(tree / "data" / "a.ttl", alias) == "data/a.ttl"
    assert os.path.realpath(alias) == os.path.realpath(tree)
