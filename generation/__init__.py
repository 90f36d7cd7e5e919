"""The text-generation node: chat completions through the Hugging Face router or any
OpenAI-compatible server, configured like the embeddings node (a credential, a model, an
endpoint URL), for answers with citations.

It knows no documents, no store and no app: it sends messages and relays the answer. Requests,
retries and error bodies go through the bottom layer, ``inference``, as the embeddings node's do.
"""
