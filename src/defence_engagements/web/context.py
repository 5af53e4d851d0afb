"""What every handler needs, bundled once per app: settings, executor, build, URLs, pages."""

from __future__ import annotations

from dataclasses import dataclass

from defence_engagements.query import QueryExecutor
from defence_engagements.settings import Settings
from defence_engagements.web.published_build import BuildProvider
from defence_engagements.web.urls import UrlMapper


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    executor: QueryExecutor
    builds: BuildProvider
    urls: UrlMapper
