"""The one source of truth for configuration.

Defaults work from a checkout; each field can be overridden by an environment
variable ``ENGAGEMENTS_<FIELD>`` (upper case) or by ``engagements.toml`` at the
repository root (keys are the field names). Environment beats file beats default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from defence_engagements.errors import ConfigurationError

CANONICAL_BASE = "https://w3id.org/defence-engagements/"
DEFAULT_SERVICE_ALLOW = ("https://query.wikidata.org/sparql",)


def _find_repo_root() -> Path:
    """The checkout this package runs from, or the working directory."""
    env = os.environ.get("ENGAGEMENTS_REPO_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for candidate in (*here.parents, Path.cwd()):
        if (candidate / "pyproject.toml").is_file() and (candidate / "ontology").is_dir():
            return candidate
    return Path.cwd()


@dataclass(frozen=True, kw_only=True)
class Settings:
    repo_root: Path
    base_iri: str = CANONICAL_BASE
    # Source directories, relative to repo_root unless absolute.
    ontology_dir: Path = Path("ontology")
    data_dir: Path = Path("data")
    shapes_dir: Path = Path("shapes")
    queries_dir: Path = Path("queries")
    build_dir: Path = Path("build")
    reasoner: str = "rules"  # OWL 2 RL engine of the build (pipeline/reason.py ENGINES)
    validator: str = "compiled"  # SHACL engine of the build (pipeline/validate.py ENGINES)
    # About how many subjects a dump part holds (pipeline/dump_parts.py): a rebuild
    # rewrites the parts around what changed.
    dump_part_subjects: int = 256
    # Serving.
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str | None = None  # e.g. https://example.org/ ; default http://host:port/
    query_timeout: float = 30.0  # seconds; the server's maximum, also its default
    max_rows: int = 100_000
    # Answers up to this size are kept (512 at most) and repeated without running again.
    answer_memo_entry_bytes: int = 256 * 1024
    # Complete responses a server process replays without running the app
    # (web/front_cache.py): this many at most, each with a body of at most this size;
    # either at 0 turns it off.
    front_cache_entries: int = 512
    front_cache_entry_bytes: int = 64 * 1024
    # Answer front-cache replays and bounded SPARQL GETs without running ASGI
    # (web/fast_lane.py; the same bytes, measured faster).
    fast_lane: bool = True
    max_body_bytes: int = 1_000_000
    max_query_length: int = 100_000
    # Server processes answering on one port (0 = one per CPU core), each running its
    # share of the query_workers (at least one each; 0 workers = queries in-process).
    server_processes: int = 0
    query_workers: int = 2
    # A query whose every triple pattern has an IRI subject, and whose patterns' match
    # counts multiply to at most this, runs in the server process (query/bounded.py);
    # 0 sends every query to the workers.
    bounded_query_rows: int = 10_000
    service_allow: tuple[str, ...] = DEFAULT_SERVICE_ALLOW
    service_allow_private: bool = False
    service_timeout: float = 10.0  # seconds a query that calls SERVICE may run
    query_queue_timeout: float = 10.0  # seconds a query may wait for a free worker (then 503)
    max_header_bytes: int = 16_384  # all request headers together (then 431)
    body_read_timeout: float = 15.0  # seconds to receive a request body (then 408)
    max_connections: int = 512  # concurrent connections before uvicorn answers 503
    keep_alive_timeout: float = 5.0  # seconds an idle keep-alive connection stays open
    access_log: bool = True  # one JSON line per request on stderr
    # Both cap a request head at 4 × max_header_bytes while parsing (then 400);
    # "httptools" (web/http_protocol.py adds the cap) costs ~100 µs less per request.
    http_parser: str = "httptools"
    # Remote stores (engagements push, serve --sparql-backend).
    sparql_backend: str | None = None  # a remote SPARQL query endpoint to serve from
    # Credentials for it: a user (with the password in the environment variable named
    # by sparql_backend_password_env) or a token in sparql_backend_token_env.
    sparql_backend_user: str | None = None
    sparql_backend_password_env: str | None = None
    sparql_backend_token_env: str | None = None
    remote_timeout: float = 300.0  # seconds per request to a remote store
    push_retries: int = 3  # retries per upload after a network failure or 5xx
    push_backoff: float = 0.5  # first wait before a retry; doubled each time
    # Outbound requests to Wikidata (links check/suggest).
    wikidata_endpoint: str = "https://query.wikidata.org/sparql"
    user_agent: str = (
        "defence-engagements/0.1 (linked-data publication of defence engagements; "
        "https://w3id.org/defence-engagements/)"
    )
    wikidata_batch_size: int = 25  # items per VALUES block in one query
    wikidata_timeout: float = 60.0  # seconds per request
    wikidata_retries: int = 4  # retries after a network failure, 429 or 5xx
    wikidata_backoff: float = 1.0  # first wait before a retry; doubled each time
    wikidata_max_wait: float = 120.0  # longest Retry-After we honour before giving up
    wikidata_cache_ttl: float = 7 * 86400.0  # seconds a cached answer stays fresh
    extra: dict[str, Any] = field(default_factory=dict)

    def path(self, relative: Path) -> Path:
        return relative if relative.is_absolute() else self.repo_root / relative

    @property
    def ontology_path(self) -> Path:
        return self.path(self.ontology_dir)

    @property
    def data_path(self) -> Path:
        return self.path(self.data_dir)

    @property
    def shapes_path(self) -> Path:
        return self.path(self.shapes_dir)

    @property
    def queries_path(self) -> Path:
        return self.path(self.queries_dir)

    @property
    def build_path(self) -> Path:
        return self.path(self.build_dir)

    @property
    def current_build(self) -> Path:
        """The published build: a symlink switched atomically by the build stage."""
        return self.build_path / "current"

    @property
    def previous_build(self) -> Path:
        return self.build_path / "previous"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def serving_processes(self) -> int:
        """How many server processes `engagements serve` runs (``server_processes``, 0 = cores)."""
        if self.server_processes > 0:
            return self.server_processes
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)

    @property
    def workers_per_process(self) -> int:
        """Query workers each server process runs: its share of ``query_workers``."""
        if self.query_workers <= 0:
            return 0
        return max(1, self.query_workers // self.serving_processes)

    def environment(self) -> dict[str, str]:
        """These settings as ``ENGAGEMENTS_*`` variables, so that :func:`load_settings` in
        another process (each server process of `engagements serve`) reads the same ones.
        ``extra`` is not carried."""
        variables = {"ENGAGEMENTS_REPO_ROOT": str(self.repo_root)}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in {"repo_root", "extra"} or value is None:
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, tuple):
                text = " ".join(value)
            else:
                text = str(value)
            variables[f"ENGAGEMENTS_{f.name.upper()}"] = text
        return variables


def _coerce(name: str, raw: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            return str(raw).strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw)
        if isinstance(default, tuple):
            if isinstance(raw, list | tuple):
                return tuple(str(x) for x in raw)
            return tuple(part for part in str(raw).split() if part)
        return raw
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"setting {name!r}: cannot use {raw!r} ({exc})") from exc


def load_settings(repo_root: Path | None = None, **overrides: Any) -> Settings:
    """Defaults, then ``engagements.toml``, then ``ENGAGEMENTS_*`` variables, then overrides."""
    root = (repo_root or _find_repo_root()).resolve()
    base = Settings(repo_root=root)
    values: dict[str, Any] = {}
    config_file = root / "engagements.toml"
    if config_file.is_file():
        try:
            values.update(tomllib.loads(config_file.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{config_file}: {exc}") from exc
    for f in fields(Settings):
        env = os.environ.get(f"ENGAGEMENTS_{f.name.upper()}")
        if env is not None and f.name not in {"repo_root", "extra"}:
            values[f.name] = env
    known = {f.name: getattr(base, f.name) for f in fields(Settings)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigurationError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    coerced = {
        name: (raw if known[name] is None else _coerce(name, raw, known[name]))
        for name, raw in values.items()
    }
    coerced.update({k: v for k, v in overrides.items() if v is not None})
    return replace(base, **coerced)
