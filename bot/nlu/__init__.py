"""Custom Rasa NLU components (adapters around bot.kb)."""
# Registers the spaCy component that build/spacy_zh uses (Rasa's SpacyNLP loads that folder).
from bot.kb.extraction import spacy_pipeline  # noqa: F401
