"""Qdrant behind one interface (embedded Edge or a server), the query path and clustering."""
