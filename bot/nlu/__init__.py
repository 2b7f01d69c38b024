"""Custom Rasa NLU components (adapters around bot.kb)."""
from bot.nlu import spacy_pipeline  # noqa: F401  (registers the spaCy component used by build/spacy_zh)
