"""Look-ups in the knowledge base that several front ends need."""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from bot.kb.loader import KnowledgeBase
from bot.kb.models import NON_SCAM_TYPES
from bot.kb.text import normalize

_SUFFIXES = ("诈骗", "骗局", "诈骗案")


def _alias_keys(kb: KnowledgeBase) -> List[Tuple[str, str]]:
    """(normalised alias, type id), longest first, for every real scam type."""
    keys = set()
    for type_id, scam in kb.scam_types.items():
        if type_id in NON_SCAM_TYPES:
            continue
        for alias in [scam.short_name, scam.name, *scam.aliases]:
            alias = normalize(alias).strip().lower()
            if len(alias) < 2:
                continue
            keys.add((alias, type_id))
            for suffix in _SUFFIXES:
                if alias.endswith(suffix) and len(alias) - len(suffix) >= 2:
                    keys.add((alias[: -len(suffix)], type_id))
    return sorted(keys, key=lambda kv: -len(kv[0]))


def find_type(kb: KnowledgeBase, text: str, entities: Sequence[Mapping] = ()) -> Optional[str]:
    """The scam type a question is about: an entity `scam_type`, else its aliases, else the
    type whose keywords the question names most often (None: no type named)."""
    for entity in entities:
        if entity.get("entity") == "scam_type" and entity.get("value") in kb.scam_types:
            if entity["value"] not in NON_SCAM_TYPES:
                return entity["value"]
    norm = normalize(text or "").lower()
    if not norm:
        return None
    for alias, type_id in _alias_keys(kb):
        if alias in norm:
            return type_id
    counts: Dict[str, int] = {}
    for type_id, scam in kb.scam_types.items():
        if type_id in NON_SCAM_TYPES:
            continue
        hits = sum(1 for k in scam.keywords if len(k) >= 2 and normalize(k).lower() in norm)
        if hits:
            counts[type_id] = hits
    return max(counts, key=lambda t: counts[t]) if counts else None
