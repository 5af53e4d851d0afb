"""Wikidata links: evidenced link records, verification, reconciliation.

A link is data with provenance (see docs/ARCHITECTURE.md, "Wikidata links"):
``records`` reads and writes the records in ``data/``, ``wikidata_client`` asks a
Wikidata SPARQL endpoint (with ``cache`` on disk), ``check`` re-verifies every
link, ``suggest`` proposes candidates for unlinked entities and ``accept`` writes
a reviewed candidate back into the data.
"""
