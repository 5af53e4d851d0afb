"""``/dumps/``: the build's dump files, and an index of them in HTML and DCAT.

A dump is a directory of pieces (:mod:`defence_engagements.dump_files`), sent as one
file with Content-Length, a strong ETag (its SHA-256, the one ``SHA256SUMS`` gives),
Last-Modified, conditional GET (304 on If-None-Match / If-Modified-Since) and byte
ranges (206, 416) across its pieces, so interrupted downloads resume. Compressed
dumps are sent as the gzip files they are, never with a Content-Encoding a client
would silently undo.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime

import anyio
import anyio.to_thread
import pyoxigraph
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.types import Send

from defence_engagements import formats
from defence_engagements.dump_files import DumpFile, dumps_in
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
    file: DumpFile
    modified: float
    media_type: str  # of the content (before decompression)
    compression: str | None

    @property
    def name(self) -> str:
        return self.file.name

    @property
    def size(self) -> int:
        return self.file.size

    @property
    def sha256(self) -> str:
        return self.file.sha256

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


def list_dumps(build: BuildInfo) -> list[Dump]:
    if build.dumps_dir is None:
        return []
    return [
        Dump(file, file.modified, *_media_for(file.name))
        for file in dumps_in(build.dumps_dir)
        if _SAFE_NAME.match(file.name)
    ]


def _etag(dump: Dump) -> str:
    return f'"{dump.sha256[:40]}"'


class _PiecesResponse(FileResponse):
    """Starlette's file response (its ranges, If-Range, HEAD) over a dump's pieces."""

    def __init__(self, dump: Dump, headers: dict[str, str]) -> None:
        size, mtime = dump.size, int(dump.modified)
        status = os.stat_result((stat.S_IFREG | 0o644, 0, 0, 1, 0, 0, size, mtime, mtime, mtime))
        super().__init__(
            dump.file.directory, media_type=dump.served_type, headers=headers, stat_result=status
        )
        self.dump = dump.file

    @asynccontextmanager
    async def _open_file(self) -> AsyncIterator[anyio.AsyncFile[bytes]]:
        file = anyio.AsyncFile(await anyio.to_thread.run_sync(self.dump.open))
        try:
            yield file
        finally:
            with anyio.CancelScope(shield=True):  # closing finishes even when cancelled
                await file.aclose()

    async def _handle_simple(self, send: Send, send_header_only: bool, send_pathsend: bool) -> None:
        # There is no one file to hand the server (ASGI pathsend): the pieces are sent.
        await super()._handle_simple(send, send_header_only, False)


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
        etag = _etag(dump)
        headers = {
            "ETag": etag,
            "Last-Modified": formatdate(dump.modified, usegmt=True),
            "Cache-Control": _DUMP_CACHE,
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Expose-Headers": "ETag, Content-Length, Content-Range, Accept-Ranges",
        }
        if matches_if_none_match(request, etag) or _not_modified_since(request, dump.modified):
            return Response(status_code=304, headers=headers)
        return _PiecesResponse(dump, headers)
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
