"""Query and document prompts: the text some models want in front of what they embed.

Retrieval models trained with instructions lose quality without them: E5 models were trained on
``query: …`` / ``passage: …`` pairs, and BGE English models on a query instruction with bare
passages. The wrong prompt is as bad as none, so the rule is explicit and small:

* a setting left blank means *automatic*: the prompts follow the model id (below);
* ``none`` (any case) means no prompt at all, even for a model that would get one;
* anything else is used literally, exactly as given (quote it in ``.env`` to keep a trailing
  space: ``EMBEDDINGS_QUERY_PROMPT="query: "``).

Automatic prompts by model id:

* an id containing ``e5`` as a name part (``intfloat/e5-base-v2``,
  ``intfloat/multilingual-e5-large``): ``query: `` and ``passage: ``;
* ``bge-<size>-en…`` (``BAAI/bge-small-en-v1.5``): the query instruction
  ``Represent this sentence for searching relevant passages: `` and no document prompt;
* any other model: none.

The local provider prefers the prompts a sentence-transformers model defines itself
(``config_sentence_transformers.json``) when the setting is automatic; see ``embeddings.local``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

E5_QUERY = "query: "
E5_DOCUMENT = "passage: "
BGE_QUERY = "Represent this sentence for searching relevant passages: "
#: The literal that forces "no prompt".
NONE = "none"

_E5 = re.compile(r"(?:^|[/_.-])e5(?:[/_.-]|$)", re.IGNORECASE)
_BGE_EN = re.compile(r"(?:^|/)bge-[a-z0-9.]+-en(?:[-_.]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Prompts:
    """The prompts in force, and whether each came from the model id (automatic) or a setting."""

    query: str = ""
    document: str = ""
    query_automatic: bool = True
    document_automatic: bool = True

    def describe(self) -> str:
        """One line for logs and the settings page."""

        def side(name: str, value: str, automatic: bool) -> str:
            how = "automatic" if automatic else "set"
            return f"{name} {value!r} ({how})" if value else f"{name} none ({how})"

        return ", ".join(
            (
                side("query", self.query, self.query_automatic),
                side("document", self.document, self.document_automatic),
            )
        )


def automatic_prompts(model: str) -> tuple[str, str]:
    """(query prompt, document prompt) that the model id calls for; empty strings for none."""
    name = model.strip()
    if _E5.search(name):
        return E5_QUERY, E5_DOCUMENT
    if _BGE_EN.search(name):
        return BGE_QUERY, ""
    return "", ""


def resolve_prompts(model: str, query_setting: str, document_setting: str) -> Prompts:
    """Apply the blank / ``none`` / literal rule to each setting."""
    auto_query, auto_document = automatic_prompts(model)
    query, query_automatic = _one(query_setting, auto_query)
    document, document_automatic = _one(document_setting, auto_document)
    return Prompts(query, document, query_automatic, document_automatic)


def _one(setting: str, automatic: str) -> tuple[str, bool]:
    if not setting.strip():
        return automatic, True
    if setting.strip().lower() == NONE:
        return "", False
    return setting, False
