"""Stand-in for the heidi_engine package of a heidi-engine checkout (heidi's tests only)."""
