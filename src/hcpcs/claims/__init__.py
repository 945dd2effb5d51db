"""Claims: the claim model and its readers (JSON, JSON Lines, CSV, X12 837P)."""
