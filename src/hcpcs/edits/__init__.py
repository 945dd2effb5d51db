"""The claim edit engine: one module per rule under `edits.rules`, policy packs under `edits.packs`."""
