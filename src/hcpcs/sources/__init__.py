"""Parsers of the official CMS release files: one module per file format, each turning a file into
typed rows for the store. Parsers know nothing about the store, the CLI or HTTP."""
