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


def test_benign_examples_cover_notices_and_everyday_chat():
    texts, labels = situation_examples(load_data("data/nlu"))
    benign = [t for t, label in zip(texts, labels) if label == "none"]
    signed_notices = [t for t in benign if t.startswith("【") or t.rstrip("。").endswith("】")]
    short_chats = [t for t in benign if len(t) <= 30 and "【" not in t]
    assert len(benign) >= 1200
    assert len(signed_notices) >= 300  # marketing and service SMS with a 【signature】
    assert len(short_chats) >= 40  # short family / work messages must not look like scams


def test_eval_like_scam_types_have_scammer_voice_examples():
    """Texts as the scammer says them (no "他说", "我收到"), not only residents' retellings."""
    texts, labels = situation_examples(load_data("data/nlu"))
    retelling = ("我", "他说", "她说", "对方", "收到", "刚才", "有人")
    for scam_type in ("acquaintance_impersonation", "customer_service_impersonation",
                      "fake_loan", "police_impersonation"):
        voiced = [t for t, label in zip(texts, labels)
                  if label == scam_type and not t.startswith(retelling)]
        assert len(voiced) >= 60, (scam_type, len(voiced))
