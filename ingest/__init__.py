"""Ingestion: load → chunk → embed → store, as small typed stages."""
