"""Where indicators come from: an injected extractor, or Rasa's entities for the text."""
from __future__ import annotations

from typing import Iterable, List, Mapping, Protocol

from bot.kb.results import INDICATOR_KINDS, Indicator


class Extractor(Protocol):
    """Text → every indicator in it, in order; `value` is the text as written."""

    def __call__(self, text: str) -> List[Indicator]: ...


def written(text: str, norm: str, start: int, end: int) -> str:
    """The indicator as the resident wrote it (normalising usually keeps offsets)."""
    return text[start:end] if len(text) == len(norm) else norm[start:end]


def indicators_from_entities(entities: Iterable[Mapping], text: str, extract: Extractor) -> List[Indicator]:
    """Indicators from Rasa's parse entities (SpacyEntityExtractor, same pipeline).

    When the entities hold no indicator at all (a model trained without the spaCy
    extractor, or entities from another source) `extract` reads the text instead, so
    the verdict never silently loses its evidence.
    """
    result = []
    for entity in entities or []:
        if entity.get("entity") in INDICATOR_KINDS:
            start, end = int(entity.get("start", 0)), int(entity.get("end", 0))
            value = text[start:end] if 0 <= start < end <= len(text) else str(entity.get("value", ""))
            result.append(Indicator(entity["entity"], value, start, end))
    if not result:
        return extract(text)
    unique = {(i.kind, i.start, i.end): i for i in result}
    return sorted(unique.values(), key=lambda i: (i.start, i.end))
