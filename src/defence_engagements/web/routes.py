"""The whole URL table."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from defence_engagements.web import (
    archive,
    downloads,
    ontology_docs,
    pages,
    resources,
    sparql,
    void,
)

_READ = ["GET", "HEAD"]
_QUERY = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]  # the handler answers 405 itself

STATIC_DIRECTORY = __file__.rsplit("/", 1)[0] + "/static"


def routes() -> list[BaseRoute]:
    return [
        Route("/", pages.home, methods=_READ, name="home"),
        Route("/sparql", sparql.sparql_endpoint, methods=_QUERY, name="sparql"),
        Route("/id/{kind}/{slug}", resources.thing, methods=_READ, name="thing"),
        Route("/doc/{kind}/{name}", resources.document, methods=_READ, name="document"),
        Route("/def", ontology_docs.ontology, methods=_READ, name="ontology"),
        Route("/def.{extension}", ontology_docs.ontology, methods=_READ, name="ontology_file"),
        Route("/dumps/", downloads.dumps_index, methods=_READ, name="dumps"),
        Route("/dumps/{name}", downloads.dump_file, methods=_READ, name="dump"),
        Route("/archive/{name}", archive.archived_text, methods=_READ, name="archive"),
        Route("/.well-known/void", void.void_description, methods=_READ, name="void"),
        Mount("/static", StaticFiles(directory=STATIC_DIRECTORY), name="static"),
    ]
