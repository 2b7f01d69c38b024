"""Knowledge base and verdict engine: pure Python, no Rasa, no web server, no other bot package.

What a process loads at start-up (the spaCy pipeline, the blocklist store, its settings)
is handed in by the caller (bot.runtime), never looked up from here.
"""
from functools import lru_cache

from bot.kb.loader import DEFAULT_KB_DIR, KnowledgeBase, KnowledgeBaseError, load_kb
from bot.kb.lookups import find_type
from bot.kb.loss import LossSteps, loss_steps
from bot.kb.models import RISK_LABELS
from bot.kb.results import Indicator, RedFlagHit
from bot.kb.verdict import Verdict, assess, find_red_flags

__all__ = [
    "DEFAULT_KB_DIR", "KnowledgeBase", "KnowledgeBaseError", "load_kb", "default_kb",
    "Indicator", "RedFlagHit", "Verdict", "assess", "find_red_flags", "find_type",
    "LossSteps", "loss_steps", "RISK_LABELS",
]


@lru_cache(maxsize=1)
def default_kb() -> KnowledgeBase:
    """The project's knowledge base (data/kb), loaded and validated once per process."""
    return load_kb()
