"""Indicator extraction, split by concern.

- entities.py — the `Extractor` protocol and indicators from Rasa's entities;
- patterns.py — the regular expressions both extractors share;
- spacy_pipeline.py — the spaCy pipeline `make build` writes (imports spaCy; only the
  processes that load it import it);
- regex_extractor.py — the same rules without spaCy;
- phones.py, hosts.py — what a number or a link is;
- red_flags.py — the red flags indicators raise and how to verify allowlisted ones.
"""
