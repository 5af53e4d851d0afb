"""Equality of the fast paths with their references (rules engine, validation)."""
