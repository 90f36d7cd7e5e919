"""Qdrant behind one interface (embedded Qdrant Edge or a Qdrant server), the query path and clustering."""
