"""Knowledge base and verdict engine: pure Python, no Rasa import."""
from functools import lru_cache

from bot.kb.loader import DEFAULT_KB_DIR, KnowledgeBase, KnowledgeBaseError, load_kb
from bot.kb.results import Indicator, RedFlagHit
from bot.kb.verdict import Verdict, assess, find_red_flags

__all__ = [
    "DEFAULT_KB_DIR", "KnowledgeBase", "KnowledgeBaseError", "load_kb", "default_kb",
    "Indicator", "RedFlagHit", "Verdict", "assess", "find_red_flags",
]


@lru_cache(maxsize=1)
def default_kb() -> KnowledgeBase:
    """The project's knowledge base, loaded and validated once per process."""
    return load_kb()
