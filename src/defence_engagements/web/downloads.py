"""``/dumps/``: the build's dump files, and an index of them in HTML and DCAT.

Each file is served with Content-Length, a strong ETag (its SHA-256 from
``SHA256SUMS`` when listed, else one derived from the build and file), Last-Modified,
conditional GET (304 on If-None-Match / If-Modified-Since) and byte ranges (206,
416), so interrupted downloads resume. Compressed dumps are sent as the gzip files
they are, never with a Content-Encoding a client would silently undo.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import pyoxigraph
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from defence_engagements import formats
from defence_engagements.errors import EngagementsError, NotAcceptableError
from defence_engagements.namespaces import PREFIXES
from defence_engagements.web import negotiation
from defence_engagements.web.caching import READ_HEADERS, build_etag, matches_if_none_match
from defence_engagements.web.context import WebContext
from defence_engagements.web.errors import NotFoundError, error_response
from defence_engagements.web.published_build import BuildInfo
from defence_engagements.web.rendering import render_page

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DUMP_CACHE = "public, max-age=300"
# extension → (media type of the content, compression)
_MEDIA = {
    ".ttl": ("text/turtle", None),
    ".nt": ("application/n-triples", None),
    ".nq": ("application/n-quads", None),
    ".trig": ("application/trig", None),
    ".jsonld": ("application/ld+json", None),
    ".rdf": ("application/rdf+xml", None),
    ".nt.gz": ("application/n-triples", "application/gzip"),
    ".nq.gz": ("application/n-quads", "application/gzip"),
    ".ttl.gz": ("text/turtle", "application/gzip"),
}


_WHAT = {
    "engagements.ttl": "The asserted data, readable Turtle with prefixes",
    "engagements-inferred.ttl": "The asserted data with the OWL 2 RL inferences",
    "engagements.nt.gz": "Ontology, data, inferences and Wikidata links, N-Triples",
    "engagements.nq.gz": "Every named graph, N-Quads",
    "engagements.jsonld": "The data as JSON-LD",
    "ontology.ttl": "The ontology and concept schemes, Turtle",
    "ontology.rdf": "The ontology and concept schemes, RDF/XML",
    "ontology.jsonld": "The ontology and concept schemes, JSON-LD",
    "links.ttl": "owl:sameAs and skos:exactMatch links to Wikidata",
    "links.nt.gz": "The Wikidata links, N-Triples",
    "void.ttl": "VoID and DCAT description of the dataset",
    "SHA256SUMS": "SHA-256 checksums of every file here",
}


@dataclass(frozen=True)
class Dump:
    name: str
    path: Path
    size: int
    modified: float
    media_type: str  # of the content (before decompression)
    compression: str | None
    sha256: str | None

    @property
    def description(self) -> str:
        return _WHAT.get(self.name, "")

    @property
    def served_type(self) -> str:
        if self.compression:
            return self.compression
        fmt = next((f for f in formats.ALL_FORMATS if f.media_type == self.media_type), None)
        return fmt.content_type if fmt else self.media_type


def _media_for(name: str) -> tuple[str, str | None]:
    for extension in sorted(_MEDIA, key=len, reverse=True):
        if name.endswith(extension):
            return _MEDIA[extension]
    return ("text/plain; charset=utf-8", None)


def _checksums(directory: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    try:
        text = (directory / "SHA256SUMS").read_text(encoding="utf-8")
    except OSError:
        return sums
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and re.fullmatch(r"[0-9a-f]{64}", parts[0]):
            sums[parts[1].lstrip("*")] = parts[0]
    return sums


def list_dumps(build: BuildInfo) -> list[Dump]:
    directory = build.dumps_dir
    if directory is None or not directory.is_dir():
        return []
    sums = _checksums(directory)
    dumps = []
    for path in sorted(directory.iterdir()):
        if not path.is_file() or not _SAFE_NAME.match(path.name):
            continue
        stat = path.stat()
        media_type, compression = _media_for(path.name)
        dumps.append(
            Dump(
                path.name,
                path,
                stat.st_size,
                stat.st_mtime,
                media_type,
                compression,
                sums.get(path.name),
            )
        )
    return dumps


def _etag(build: BuildInfo, dump: Dump) -> str:
    if dump.sha256:
        return f'"{dump.sha256[:40]}"'
    digest = hashlib.sha256(f"{build.version}\x1f{dump.name}\x1f{dump.size}".encode())
    return f'"{digest.hexdigest()[:40]}"'


def _not_modified_since(request: Request, modified: float) -> bool:
    header = request.headers.get("if-modified-since")
    if not header or request.headers.get("if-none-match"):
        return False  # If-None-Match takes precedence (RFC 9110 13.1.3)
    try:
        return int(modified) <= parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError, IndexError):
        return False


async def dump_file(request: Request) -> Response:
    context: WebContext = request.app.state.context
    name = request.path_params["name"]
    try:
        build = context.builds.current()
        dump = next((d for d in list_dumps(build) if d.name == name), None)
        if dump is None or not _SAFE_NAME.match(name):
            raise NotFoundError(f"there is no dump called {name!r}; see /dumps/ for the list")
        etag = _etag(build, dump)
        headers = {
            "ETag": etag,
            "Last-Modified": formatdate(dump.modified, usegmt=True),
            "Cache-Control": _DUMP_CACHE,
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Expose-Headers": "ETag, Content-Length, Content-Range, Accept-Ranges",
        }
        if matches_if_none_match(request, etag) or _not_modified_since(request, dump.modified):
            return Response(status_code=304, headers=headers)
        return FileResponse(
            dump.path,
            media_type=dump.served_type,
            headers=headers,
            filename=None,
            stat_result=dump.path.stat(),
        )
    except EngagementsError as error:
        return error_response(request, error)


def dcat_index(context: WebContext, build: BuildInfo, dumps: list[Dump]) -> list[pyoxigraph.Triple]:
    nn, lit = pyoxigraph.NamedNode, pyoxigraph.Literal
    dcat, dct, rdf = PREFIXES["dcat"], PREFIXES["dcterms"], PREFIXES["rdf"]
    xsd = PREFIXES["xsd"]
    catalog = nn(context.urls.url("dumps/"))
    dataset = nn(context.urls.canonical_base)
    triples = [
        pyoxigraph.Triple(catalog, nn(rdf + "type"), nn(dcat + "Catalog")),
        pyoxigraph.Triple(
            catalog, nn(dct + "title"), lit("defence-engagements downloads", language="en")
        ),
        pyoxigraph.Triple(catalog, nn(dcat + "dataset"), dataset),
        pyoxigraph.Triple(dataset, nn(rdf + "type"), nn(dcat + "Dataset")),
        pyoxigraph.Triple(dataset, nn(dct + "hasVersion"), lit(build.version)),
    ]
    for dump in dumps:
        node = nn(context.urls.url(f"dumps/{dump.name}"))
        triples += [
            pyoxigraph.Triple(dataset, nn(dcat + "distribution"), node),
            pyoxigraph.Triple(node, nn(rdf + "type"), nn(dcat + "Distribution")),
            pyoxigraph.Triple(node, nn(dct + "title"), lit(dump.name)),
            pyoxigraph.Triple(node, nn(dcat + "downloadURL"), node),
            pyoxigraph.Triple(
                node,
                nn(dcat + "mediaType"),
                nn("https://www.iana.org/assignments/media-types/" + dump.media_type.split(";")[0]),
            ),
            pyoxigraph.Triple(
                node,
                nn(dcat + "byteSize"),
                lit(str(dump.size), datatype=nn(xsd + "nonNegativeInteger")),
            ),
            pyoxigraph.Triple(
                node, nn(dct + "modified"), lit(formatdate(dump.modified, usegmt=True))
            ),
        ]
        if dump.compression:
            triples.append(
                pyoxigraph.Triple(
                    node,
                    nn(dcat + "compressFormat"),
                    nn("https://www.iana.org/assignments/media-types/" + dump.compression),
                )
            )
        if dump.sha256:
            spdx = "http://spdx.org/rdf/terms#"
            checksum = pyoxigraph.BlankNode()
            triples += [
                pyoxigraph.Triple(node, nn(spdx + "checksum"), checksum),
                pyoxigraph.Triple(
                    checksum, nn(spdx + "algorithm"), nn(spdx + "checksumAlgorithm_sha256")
                ),
                pyoxigraph.Triple(
                    checksum,
                    nn(spdx + "checksumValue"),
                    lit(dump.sha256, datatype=nn(xsd + "hexBinary")),
                ),
            ]
    return triples


async def dumps_index(request: Request) -> Response:
    context: WebContext = request.app.state.context
    try:
        fmt = negotiation.negotiate(request.headers.get("accept"), negotiation.DOCUMENT_OFFER)
        if fmt is None:
            raise NotAcceptableError("the dumps index is offered as HTML and as DCAT in RDF")
        build = context.builds.current()
        etag = build_etag(build.version, "dumps", fmt.name, context.urls.serving_base)
        headers = {**READ_HEADERS, "ETag": etag, "Cache-Control": "public, max-age=60"}
        if matches_if_none_match(request, etag):
            return Response(status_code=304, headers=headers)
        dumps = list_dumps(build)
        if fmt is formats.HTML:
            return render_page(
                request,
                "dumps.html",
                {"title": "Downloads", "dumps": dumps, "build": build},
                headers=headers,
            )
        body = (
            pyoxigraph.serialize(
                dcat_index(context, build, dumps), format=fmt.oxigraph_rdf, prefixes=PREFIXES
            )
            or b""
        )
        return Response(body, headers=headers, media_type=fmt.content_type)
    except EngagementsError as error:
        return error_response(request, error)
