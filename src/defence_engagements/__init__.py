"""Defence engagements as linked data."""
