"""Distribution beyond the embedded store: push to a remote store, publish a static site."""
