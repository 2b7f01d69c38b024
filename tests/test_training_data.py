"""The NLU data teaches the scam classifier every type of the knowledge base."""
from collections import Counter

from rasa.shared.nlu.training_data.loading import load_data

from bot.nlu.scam_classifier import situation_examples

MIN_EXAMPLES_PER_TYPE = 25


def test_every_kb_type_has_enough_labelled_examples(real_kb):
    texts, labels = situation_examples(load_data("data/nlu"))
    counts = Counter(labels)
    assert set(counts) == set(real_kb.scam_types), set(counts) ^ set(real_kb.scam_types)
    thin = {t: n for t, n in counts.items() if n < MIN_EXAMPLES_PER_TYPE}
    assert not thin, f"types with fewer than {MIN_EXAMPLES_PER_TYPE} examples: {thin}"
    assert counts["none"] >= 400  # enough ordinary messages not to cry wolf


def test_situation_examples_are_not_repeated():
    texts, _ = situation_examples(load_data("data/nlu"))
    repeated = [t for t, n in Counter(texts).items() if n > 1]
    assert not repeated, repeated[:5]
