"""Tests of the Wikidata links: check, suggest, accept, federated queries."""
