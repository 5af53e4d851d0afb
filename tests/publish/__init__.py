"""Tests of push, serving over a remote store, and the static site."""
