"""The ASGI app: SPARQL protocol, linked-data documents, pages, dumps, operations."""
