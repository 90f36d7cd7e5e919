"""Talking to inference services over HTTP: what the embeddings node and the text-generation node
share.

The bottom layer: it imports no other package of semsearch, and every other may import it. It
holds the root of the domain errors (``errors``), when and how long to wait before retrying a
request (``retry``) and the loop that does it (``attempts``), the error message in a service's
error body (``wire``) and the masking of passwords in URLs (``redact``). What is one node's own
(vectors, batching, chat messages) stays in that node.
"""
