"""Accept header → format. Pure: no framework imports, tested against a table of cases.

Each offered format scores the best quality any of its media types gets from the
Accept header (mimeparse gives the most specific matching range precedence, so
``text/turtle;q=0.5, */*;q=0.1`` prefers Turtle). Ties go to the format offered
first, which is why every offer list starts with the default. A quality of 0 means
"not acceptable"; a missing, empty or malformed header accepts anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import mimeparse

from defence_engagements import formats
from defence_engagements.formats import Format

# Offers, default first.
RESULTS_OFFER: tuple[Format, ...] = formats.RESULTS_FORMATS
GRAPH_OFFER: tuple[Format, ...] = (*formats.GRAPH_FORMATS, *formats.DATASET_FORMATS)
DOCUMENT_OFFER: tuple[Format, ...] = (formats.HTML, *formats.GRAPH_FORMATS)
RDF_OFFER: tuple[Format, ...] = formats.GRAPH_FORMATS

# A format= override names one format; its counterpart serves the other result kind.
_COUNTERPARTS: dict[str, str] = {
    "json": "jsonld",
    "jsonld": "json",
    "xml": "rdfxml",
    "rdfxml": "xml",
}


def _parse_accept(accept: str) -> list[tuple[str, str, dict[str, str]]] | None:
    try:
        return [mimeparse.parse_media_range(part) for part in accept.split(",") if part.strip()]
    except (ValueError, IndexError, TypeError, mimeparse.MimeTypeParseException):
        return None


def _format_quality(fmt: Format, ranges: list[tuple[str, str, dict[str, str]]]) -> float:
    """The quality of the most specific range matching any name of ``fmt``.

    A format's aliases are names of the same thing, so ``application/json`` matching
    ``*/*`` must not overrule an explicit ``application/sparql-results+json;q=0``.
    """
    best_fitness, quality = -1.0, 0.0
    for media_type in fmt.media_types:
        q, fitness = mimeparse.quality_and_fitness_parsed(media_type, ranges)
        if fitness > best_fitness:
            best_fitness, quality = fitness, q
    return float(quality)


# Clients send the same few Accept headers again and again, and parsing one costs more
# than the rest of a memo hit: remember the answers (bounded, so odd headers cannot grow it).
_NEGOTIATION_MEMO = 256


def negotiate(accept: str | None, offered: Sequence[Format]) -> Format | None:
    """The best offered format for ``accept``, or None when the client accepts none."""
    return _negotiate(accept, tuple(offered))


@lru_cache(maxsize=_NEGOTIATION_MEMO)
def _negotiate(accept: str | None, offered: tuple[Format, ...]) -> Format | None:
    if not offered:
        return None
    if accept is None or not accept.strip():
        return offered[0]
    ranges = _parse_accept(accept)
    if not ranges:
        return offered[0]
    best: Format | None = None
    best_quality = 0.0
    for fmt in offered:
        quality = _format_quality(fmt, ranges)
        if quality > best_quality:
            best, best_quality = fmt, quality
    return best


@lru_cache(maxsize=_NEGOTIATION_MEMO)
def prefers_html(accept: str | None) -> bool:
    """True when a browser-like client ranks HTML above every RDF and results format."""
    if not accept or "html" not in accept:
        return False
    return negotiate(accept, (formats.HTML, *GRAPH_OFFER, *RESULTS_OFFER)) is formats.HTML


@lru_cache(maxsize=_NEGOTIATION_MEMO)
def negotiate_query_formats(
    accept: str | None, format_override: str | None = None
) -> tuple[Format | None, Format | None]:
    """(results format, graph format) for a SPARQL request.

    ``format_override`` (the ``format=`` parameter: short name, extension or media type)
    beats Accept; an unknown override is ignored, as Fuseki does.
    """
    results = negotiate(accept, RESULTS_OFFER)
    graph = negotiate(accept, GRAPH_OFFER)
    chosen = formats.by_name(format_override) if format_override else None
    if chosen is not None:
        counterpart = formats.by_name(_COUNTERPARTS.get(chosen.name, chosen.name))
        if chosen in RESULTS_OFFER:
            results = chosen
            if counterpart in GRAPH_OFFER:
                graph = counterpart
        elif chosen in GRAPH_OFFER:
            graph = chosen
            if counterpart in RESULTS_OFFER:
                results = counterpart
    return results, graph


def format_for_extension(extension: str, offered: Sequence[Format]) -> Format | None:
    """``ttl`` → Turtle etc., restricted to ``offered``."""
    wanted = extension.lstrip(".").lower()
    for fmt in offered:
        if fmt.extension == wanted or fmt.name == wanted:
            return fmt
    return None
