"""Mapping the canonical base IRI onto the URL the server answers at, and back.

The store and RDF documents keep canonical IRIs; HTML links, the service
description and the VoID's endpoint and dump URLs use the serving URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from defence_engagements.namespaces import BASE


@dataclass(frozen=True)
class UrlMapper:
    serving_base: str  # e.g. http://127.0.0.1:8000/ ; always ends with "/"
    canonical_base: str = BASE

    @classmethod
    def for_base(cls, serving_base: str, canonical_base: str = BASE) -> UrlMapper:
        return cls(serving_base.rstrip("/") + "/", canonical_base)

    def to_serving(self, iri: str) -> str:
        """A canonical IRI → the URL that serves it here (other IRIs unchanged)."""
        if iri.startswith(self.canonical_base):
            return self.serving_base + iri[len(self.canonical_base) :]
        return iri

    def to_canonical(self, path: str) -> str:
        """A path on this server (``/id/person/x``) → its canonical IRI."""
        return self.canonical_base + path.lstrip("/")

    def url(self, path: str) -> str:
        return self.serving_base + path.lstrip("/")

    def is_ours(self, iri: str) -> bool:
        return iri.startswith(self.canonical_base)
