"""The example queries on the query page: ``queries/*.rq``, titled by their leading comment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ExampleQuery:
    name: str  # file stem
    title: str  # the leading "# comment", else the file name
    text: str


def load_example_queries(directory: Path) -> list[ExampleQuery]:
    if not directory.is_dir():
        return []
    examples = []
    for path in sorted(directory.glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        title = path.stem.replace("-", " ")
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                title = stripped.lstrip("#").strip() or title
            break
        examples.append(ExampleQuery(name=path.stem, title=title, text=text))
    return examples
