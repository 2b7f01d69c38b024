"""Custom Rasa NLU components (adapters around bot.kb)."""
