"""What every handler needs, bundled once per app: settings, executor, build, URLs, pages."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph

from defence_engagements.query import QueryExecutor
from defence_engagements.settings import Settings
from defence_engagements.web.memo import Memo
from defence_engagements.web.published_build import BuildProvider
from defence_engagements.web.urls import UrlMapper


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    executor: QueryExecutor
    builds: BuildProvider
    urls: UrlMapper
    # (build version, IRI) → the resource's description; shared by /id and every /doc variant.
    descriptions: Memo[list[pyoxigraph.Triple]] = field(default_factory=Memo)
    # ETag → rendered page body; an ETag already names the build, URL base and format.
    pages: Memo[bytes] = field(default_factory=lambda: Memo(512))
    # ETag → a query's answer (body, media type, extra headers); the ETag names the build,
    # the query, its dataset, the formats and the row limit. Entries are at most
    # settings.answer_memo_entry_bytes, so the memo stays under 512 of them.
    answers: Memo[tuple[bytes, str, tuple[tuple[str, str], ...]]] = field(
        default_factory=lambda: Memo(512)
    )
