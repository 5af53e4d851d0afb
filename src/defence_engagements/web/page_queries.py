"""The SPARQL behind the human pages, one function per question a page asks."""

from __future__ import annotations

from dataclasses import dataclass, field

from defence_engagements.namespaces import BASE, WIKIDATA_ENTITY
from defence_engagements.query import QueryExecutor
from defence_engagements.web.data_access import Row, iri, select
from defence_engagements.web.dates import format_range, year_of


def _label(var: str) -> str:
    """An OPTIONAL binding ``?{var}Label`` (English or untagged rdfs:label / skos:prefLabel)."""
    return (
        f"OPTIONAL {{ ?{var} rdfs:label|skos:prefLabel|foaf:name ?{var}Label "
        f'FILTER(lang(?{var}Label) = "" || langMatches(lang(?{var}Label), "en")) }}'
    )


def _text(row: Row, name: str) -> str | None:
    term = row.get(name)
    return None if term is None else str(term.value)


def _datatype(row: Row, name: str) -> str | None:
    term = row.get(name)
    datatype = getattr(term, "datatype", None)
    return datatype.value if datatype is not None else None


@dataclass
class EngagementSummary:
    iri: str
    label: str
    when: str
    sort_key: str
    year: str | None
    type_iri: str | None = None
    type_label: str | None = None
    status: str | None = None
    place_label: str | None = None
    countries: dict[str, str] = field(default_factory=dict)  # iri → label
    roles: set[str] = field(default_factory=set)  # how the page's subject takes part


def _summaries(rows: list[Row]) -> list[EngagementSummary]:
    found: dict[str, EngagementSummary] = {}
    for row in rows:
        key = _text(row, "e")
        if key is None:
            continue
        summary = found.get(key)
        if summary is None:
            start = _text(row, "start")
            summary = EngagementSummary(
                iri=key,
                label=_text(row, "eLabel") or key.rsplit("/", 1)[-1],
                when=format_range(
                    start, _datatype(row, "start"), _text(row, "end"), _datatype(row, "end")
                ),
                sort_key=start or "",
                year=year_of(start),
            )
            found[key] = summary
        if "type" in row and summary.type_iri is None:
            summary.type_iri = _text(row, "type")
            summary.type_label = _text(row, "typeLabel")
        if "statusLabel" in row:
            summary.status = _text(row, "statusLabel")
        if "placeLabel" in row and summary.place_label is None:
            summary.place_label = _text(row, "placeLabel")
        country = _text(row, "country")
        if country:
            summary.countries[country] = _text(row, "countryLabel") or country.rsplit("/", 1)[-1]
        role = _text(row, "roleLabel")
        if role:
            summary.roles.add(role)
    return sorted(found.values(), key=lambda s: (s.sort_key, s.label), reverse=True)


_ENGAGEMENT_FIELDS = f"""
  ?e a/rdfs:subClassOf* dex:Engagement .
  {_label("e")}
  OPTIONAL {{ ?e dex:startDate ?start }}
  OPTIONAL {{ ?e dex:endDate ?end }}
  OPTIONAL {{ ?e dex:engagementType ?type . {_label("type")} }}
  OPTIONAL {{ ?e dex:status ?status . {_label("status")} }}
  OPTIONAL {{ ?e dex:location ?place . {_label("place")} }}
  OPTIONAL {{ ?e dex:involvesCountry ?country . {_label("country")} }}
"""


@dataclass(frozen=True)
class EngagementFilter:
    """The home page's filters, already validated (slugs, a four-digit year)."""

    country: str | None = None  # country slug
    engagement_type: str | None = None  # engagement-type slug
    year: str | None = None

    def patterns(self) -> str:
        parts = []
        if self.country:
            parts.append(f"?e dex:involvesCountry <{BASE}id/country/{self.country}> .")
        if self.engagement_type:
            kind = f"{BASE}id/engagement-type/{self.engagement_type}"
            parts.append(f"?e dex:engagementType <{kind}> .")
        if self.year:
            parts.append(f'FILTER(STRSTARTS(STR(?start), "{self.year}"))')
        return "\n".join(parts)


_SELECTED = """?e a/rdfs:subClassOf* dex:Engagement .
    OPTIONAL {{ ?e dex:startDate ?start }}
    {filters}"""


async def count_engagements(executor: QueryExecutor, chosen: EngagementFilter) -> int:
    selected = _SELECTED.format(filters=chosen.patterns())
    rows = await select(executor, f"SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE {{ {selected} }}")
    return int(rows[0]["n"].value) if rows and "n" in rows[0] else 0


async def engagement_page(
    executor: QueryExecutor, chosen: EngagementFilter, offset: int, limit: int
) -> list[EngagementSummary]:
    """One page of engagements matching ``chosen``, newest first.

    The page is chosen in SPARQL (a sub-select ordered by the date's lexical form,
    which sorts days, months and years correctly), so the cost follows the page
    size, not the number of engagements.
    """
    selected = _SELECTED.format(filters=chosen.patterns())
    rows = await select(
        executor,
        f"""SELECT * WHERE {{
  {{ SELECT DISTINCT ?e ?start WHERE {{ {selected} }}
    ORDER BY DESC(STR(?start)) ?e LIMIT {int(limit)} OFFSET {int(offset)} }}
  {_ENGAGEMENT_FIELDS}
}}""",
    )
    return _summaries(rows)


async def engagement_years(executor: QueryExecutor) -> list[str]:
    rows = await select(
        executor,
        """SELECT DISTINCT (SUBSTR(STR(?start), 1, 4) AS ?year) WHERE {
        ?e a/rdfs:subClassOf* dex:Engagement ; dex:startDate ?start }""",
    )
    return sorted({str(r["year"].value) for r in rows if "year" in r}, reverse=True)


async def engagements_about(executor: QueryExecutor, resource: str) -> list[EngagementSummary]:
    """Engagements the resource takes part in, hosts, is the place or country of, or
    is reached through a post or a contained place; with the property that links them."""
    r = iri(resource)
    rows = await select(
        executor,
        f"""SELECT * WHERE {{
  {{ ?e ?role {r} }}
  UNION {{ ?e ?role ?inner . ?inner dex:containedInPlace {r} }}
  UNION {{ ?e dex:participantPost ?post . ?post dex:postIn|dex:holder {r}
           BIND(dex:participantPost AS ?role) }}
  FILTER(?role != rdf:type)
  OPTIONAL {{ ?role rdfs:label ?roleLabel FILTER(langMatches(lang(?roleLabel), "en")) }}
  {_ENGAGEMENT_FIELDS}
}}""",
    )
    summaries = _summaries(rows)
    for summary in summaries:
        specific = summary.roles - _GENERIC_ROLES
        summary.roles = specific or summary.roles
    return summaries


# Implied by a more specific role (host, guest, …) whenever one is present.
_GENERIC_ROLES = {"participant", "participant's post", "involves country"}


@dataclass
class Participant:
    iri: str
    label: str
    roles: set[str] = field(default_factory=set)
    posts: list[str] = field(default_factory=list)  # "Maj. Gen., director …, U.S. European Command"
    wikidata: str | None = None


async def participants(executor: QueryExecutor, engagement: str) -> list[Participant]:
    e = iri(engagement)
    rows = await select(
        executor,
        f"""SELECT * WHERE {{
  {e} ?role ?agent . ?role rdfs:subPropertyOf* dex:participant .
  {_label("agent")}
  OPTIONAL {{ ?role rdfs:label ?roleLabel FILTER(langMatches(lang(?roleLabel), "en")) }}
  OPTIONAL {{ ?agent owl:sameAs ?wd FILTER(STRSTARTS(STR(?wd), "{WIKIDATA_ENTITY}")) }}
  OPTIONAL {{
    {e} dex:participantPost ?post . ?post dex:holder ?agent .
    OPTIONAL {{ ?post dex:postTitle ?title }}
    OPTIONAL {{ ?post dex:rank ?rank }}
    OPTIONAL {{ ?post dex:postIn ?org . {_label("org")} }}
  }}
}}""",
    )
    people: dict[str, Participant] = {}
    for row in rows:
        agent = _text(row, "agent")
        if agent is None:
            continue
        person = people.setdefault(
            agent, Participant(agent, _text(row, "agentLabel") or agent.rsplit("/", 1)[-1])
        )
        role = _text(row, "roleLabel")
        if role:
            person.roles.add(role)
        if "wd" in row:
            person.wikidata = _text(row, "wd")
        if "post" in row:
            parts = [
                p for p in (_text(row, "rank"), _text(row, "title"), _text(row, "orgLabel")) if p
            ]
            post = ", ".join(parts)
            if post and post not in person.posts:
                person.posts.append(post)
    for person in people.values():
        specific = {role for role in person.roles if role != "participant"}
        person.roles = specific or person.roles
    return sorted(people.values(), key=lambda p: (not ({"host"} & p.roles), p.label.casefold()))


@dataclass
class Quote:
    iri: str
    text: str
    source: str | None
    source_label: str | None
    source_url: str | None
    archive: str | None  # the archived text of the source (canonical IRI)
    speaker: str | None


async def quotes(executor: QueryExecutor, subject: str) -> list[Quote]:
    s = iri(subject)
    rows = await select(
        executor,
        f"""SELECT * WHERE {{
  {s} dex:evidenceQuote ?quote . ?quote oa:exact ?text .
  OPTIONAL {{ ?quote dex:quotedFrom ?source . {_label("source")}
    OPTIONAL {{ ?source dcterms:title ?sourceTitle }}
    OPTIONAL {{ ?source schema:url|foaf:page|dcterms:source ?url FILTER(isIRI(?url)) }}
    OPTIONAL {{ ?source dex:archivedText ?archive }} }}
  OPTIONAL {{ ?quote dex:speaker ?speaker . {_label("speaker")} }}
}}""",
    )
    found: dict[str, Quote] = {}
    for row in rows:
        key = _text(row, "quote") or ""
        if key in found:
            continue
        found[key] = Quote(
            iri=key,
            text=_text(row, "text") or "",
            source=_text(row, "source"),
            source_label=_text(row, "sourceTitle") or _text(row, "sourceLabel"),
            source_url=_text(row, "url"),
            archive=_text(row, "archive"),
            speaker=_text(row, "speakerLabel"),
        )
    return list(found.values())


async def wikidata_links(executor: QueryExecutor, resource: str) -> list[str]:
    rows = await select(
        executor,
        f"""SELECT DISTINCT ?wd WHERE {{ {iri(resource)} owl:sameAs|skos:exactMatch ?wd
        FILTER(STRSTARTS(STR(?wd), "{WIKIDATA_ENTITY}")) }}""",
    )
    return sorted(str(row["wd"].value) for row in rows if "wd" in row)


@dataclass(frozen=True)
class Facet:
    iri: str
    label: str
    slug: str


async def facets(executor: QueryExecutor, property_name: str) -> list[Facet]:
    """The values of ``dex:{property_name}`` over engagements, for the home page filters."""
    rows = await select(
        executor,
        f"""SELECT DISTINCT ?v ?vLabel WHERE {{
        ?e a/rdfs:subClassOf* dex:Engagement ; dex:{property_name} ?v .
        OPTIONAL {{ ?v rdfs:label|skos:prefLabel ?vLabel
        FILTER(lang(?vLabel) = "" || langMatches(lang(?vLabel), "en")) }} }}""",
    )
    seen: dict[str, Facet] = {}
    for row in rows:
        value = _text(row, "v")
        if value and value.startswith(BASE) and value not in seen:
            slug = value.rsplit("/", 1)[-1]
            seen[value] = Facet(value, _text(row, "vLabel") or slug, slug)
    return sorted(seen.values(), key=lambda f: f.label.casefold())


async def posts_held(executor: QueryExecutor, person: str) -> list[Row]:
    return await select(
        executor,
        f"""SELECT ?post ?title ?rank ?org ?orgLabel ?since WHERE {{
  ?post dex:holder {iri(person)} .
  OPTIONAL {{ ?post dex:postTitle ?title }} OPTIONAL {{ ?post dex:rank ?rank }}
  OPTIONAL {{ ?post dex:postStartDate ?since }}
  OPTIONAL {{ ?post dex:postIn ?org . {_label("org")} }}
}}""",
    )


@dataclass
class Claim:
    iri: str
    label: str
    property_label: str
    value: str
    preferred: bool | None
    reason: str | None


async def claims(executor: QueryExecutor, subject: str) -> list[Claim]:
    """Claims the sources make about ``subject``, conflicting ones included."""
    rows = await select(
        executor,
        f"""SELECT * WHERE {{
  ?claim dex:claimAbout {iri(subject)} .
  {_label("claim")}
  OPTIONAL {{ ?claim dex:claimedProperty ?property . {_label("property")} }}
  OPTIONAL {{ ?claim dex:claimedValue|dex:claimedResource ?value . {_label("value")} }}
  OPTIONAL {{ ?claim dex:preferred ?preferred }}
  OPTIONAL {{ ?claim dex:reason ?reason }}
}}""",
    )
    found: dict[str, Claim] = {}
    for row in rows:
        key = _text(row, "claim") or ""
        if key in found:
            continue
        preferred = _text(row, "preferred")
        found[key] = Claim(
            iri=key,
            label=_text(row, "claimLabel") or key.rsplit("/", 1)[-1],
            property_label=_text(row, "propertyLabel") or (_text(row, "property") or ""),
            value=_text(row, "valueLabel") or _text(row, "value") or "",
            preferred=None if preferred is None else preferred == "true",
            reason=_text(row, "reason"),
        )
    return sorted(found.values(), key=lambda c: (c.preferred is not True, c.label))


async def related_engagements(executor: QueryExecutor, engagement: str) -> list[EngagementSummary]:
    """Engagements linked to this one in either direction, with the linking property."""
    e = iri(engagement)
    found: dict[str, EngagementSummary] = {}
    # Outgoing links read naturally ("this engagement precedes …"); incoming ones are
    # only needed where no inverse was stated or inferred.
    for pattern in (f"{e} ?link ?e", f"?e ?link {e}"):
        rows = await select(
            executor,
            f"""SELECT * WHERE {{
  {pattern} FILTER(?e != {e})
  OPTIONAL {{ ?link rdfs:label ?roleLabel FILTER(langMatches(lang(?roleLabel), "en")) }}
  {_ENGAGEMENT_FIELDS}
}}""",
        )
        for summary in _summaries(rows):
            if summary.iri not in found:
                if pattern.startswith("?e"):
                    summary.roles = {f"is {role} of" for role in summary.roles}
                found[summary.iri] = summary
    return sorted(found.values(), key=lambda s: (s.sort_key, s.label), reverse=True)
