"""Checked ``Labels`` from what users type: upload form fields, API fields, CLI options, filters.

Part of the filter vocabulary, which lives in ``search/`` so that the query side needs nothing
of ingestion; ingestion imports it to check an upload's labels.

One module, so that an upload and a search normalise tags the same way: a filter typed as
``Finance`` finds documents uploaded with ``finance``. The rules:

- **Tags** come from comma-separated strings, one or many (``"a, b"`` and ``["a", "b"]`` give
  the same). Each is trimmed, inner whitespace collapsed to one space, and lower-cased, because
  Qdrant's keyword match is exact and case-sensitive: keeping the case would make ``Finance``
  and ``finance`` two tags that filters tell apart. Empty entries (``"a,,b"``) are skipped,
  repeats dropped (first one kept, in order). At most ``MAX_TAGS`` tags of ``MAX_TAG_CHARS``.
- **Metadata** comes from ``key=value`` entries (each entry may hold several lines, one pair a
  line: the upload page's textarea) and/or a mapping (a JSON body). Keys match
  ``[A-Za-z0-9_-]{1,40}`` and keep their case; no dots, because ``meta.<key>`` is the nested
  payload path a filter uses. Values are trimmed, non-empty, at most ``MAX_VALUE_CHARS``,
  matched exactly (case kept). A key given twice with two values is an error, not a silent
  pick. At most ``MAX_METADATA_KEYS`` keys.

Every problem found is reported at once in one ``InvalidLabelsError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from search.errors import InvalidLabelsError
from search.points import label_fields

MAX_TAGS = 20
MAX_TAG_CHARS = 50
MAX_METADATA_KEYS = 20
MAX_KEY_CHARS = 40
MAX_VALUE_CHARS = 200
_KEY = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_KEY_CHARS}}}")


@dataclass(frozen=True)
class Labels:
    """What a user attaches to an upload, or asks a search to filter on: tags and free key/value
    metadata, checked by ``build_labels``.

    They are stored on every chunk and on the document point (``search.points``), so a search
    can filter on them without a join.
    """

    tags: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)

    def payload(self) -> dict[str, object]:
        """The payload fields they become on every point of the document."""
        return label_fields(self.tags, self.metadata)


def build_labels(
    tags: Iterable[str] = (),
    metadata_entries: Iterable[str] = (),
    metadata: Mapping[str, object] | None = None,
) -> Labels:
    """Tags from comma-separated strings; metadata from ``key=value`` entries plus a mapping.

    Raises ``InvalidLabelsError`` listing every problem."""
    problems: list[str] = []
    checked_tags = _tags(tags, problems)
    pairs = list(_entry_pairs(metadata_entries, problems))
    pairs.extend((str(key), value) for key, value in (metadata or {}).items())
    checked_metadata = _metadata(pairs, problems)
    if problems:
        raise InvalidLabelsError(problems)
    return Labels(tags=checked_tags, metadata=checked_metadata)


def parse_tags(values: Iterable[str]) -> tuple[str, ...]:
    """Only tags (a search filter, the CLI's ``--tag``): see the module docstring."""
    return build_labels(tags=values).tags


def parse_metadata(entries: Iterable[str]) -> dict[str, str]:
    """Only metadata, from ``key=value`` entries: see the module docstring."""
    return dict(build_labels(metadata_entries=entries).metadata)


def _tags(values: Iterable[str], problems: list[str]) -> tuple[str, ...]:
    tags: list[str] = []
    for value in values:
        for raw in value.split(","):
            tag = " ".join(raw.split()).lower()
            if not tag or tag in tags:
                continue
            if len(tag) > MAX_TAG_CHARS:
                problems.append(f"tag {_short(tag)!r} is longer than {MAX_TAG_CHARS} characters")
            elif not tag.isprintable():
                problems.append(f"tag {_short(tag)!r} holds control characters")
            else:
                tags.append(tag)
    if len(tags) > MAX_TAGS:
        problems.append(f"{len(tags)} tags given, at most {MAX_TAGS} are allowed")
    return tuple(tags)


def _entry_pairs(entries: Iterable[str], problems: list[str]) -> Iterable[tuple[str, object]]:
    """``key=value`` pairs, one a line; blank lines are skipped."""
    for entry in entries:
        for line in entry.splitlines():
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep:
                problems.append(f"metadata {_short(line.strip())!r} is not of the form key=value")
                continue
            yield key.strip(), value


def _metadata(pairs: Iterable[tuple[str, object]], problems: list[str]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for key, raw in pairs:
        if not _KEY.fullmatch(key):
            problems.append(
                f"metadata key {_short(key)!r} must be 1 to {MAX_KEY_CHARS} letters, digits, "
                "'_' or '-' (no dots or spaces)"
            )
            continue
        if not isinstance(raw, str):
            problems.append(f"metadata {key!r} must be a string, not {type(raw).__name__}")
            continue
        value = raw.strip()
        if not value:
            problems.append(f"metadata {key!r} has an empty value")
        elif len(value) > MAX_VALUE_CHARS:
            problems.append(f"metadata {key!r} is longer than {MAX_VALUE_CHARS} characters")
        elif not value.isprintable():
            problems.append(f"metadata {key!r} holds control characters")
        elif key in metadata and metadata[key] != value:
            problems.append(
                f"metadata {key!r} is given twice, as {metadata[key]!r} and {_short(value)!r}"
            )
        else:
            metadata[key] = value
    if len(metadata) > MAX_METADATA_KEYS:
        problems.append(f"{len(metadata)} metadata keys given, at most {MAX_METADATA_KEYS}")
    return metadata


def _short(text: str, limit: int = 60) -> str:
    """Enough of an offending value to recognise it, without echoing a huge one back."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
