"""The DIET-side sample of scam descriptions: bounded per type, stable, other intents intact."""
from __future__ import annotations

from rasa.shared.nlu.constants import INTENT, METADATA, METADATA_INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_sampler import IntentSampler, sample_intent


def _situation(text: str, scam_type: str) -> Message:
    return Message(data={TEXT: text, INTENT: "describe_situation",
                         METADATA: {METADATA_INTENT: {"scam_type": scam_type}}})


def _examples() -> list[Message]:
    situations = [_situation(f"案例{i}", "fake_loan" if i % 2 else "none") for i in range(30)]
    dialogue = [Message(data={TEXT: f"是的{i}", INTENT: "affirm"}) for i in range(25)]
    return situations + dialogue


def test_keeps_at_most_per_label_of_each_type_and_every_other_intent() -> None:
    kept = sample_intent(_examples(), "describe_situation", "scam_type", 4)
    situations = [m for m in kept if m.get(INTENT) == "describe_situation"]
    labels = [m.get(METADATA)[METADATA_INTENT]["scam_type"] for m in situations]
    assert sorted(labels) == ["fake_loan"] * 4 + ["none"] * 4
    assert len([m for m in kept if m.get(INTENT) == "affirm"]) == 25


def test_the_sample_does_not_depend_on_input_order() -> None:
    forward = sample_intent(_examples(), "describe_situation", "scam_type", 3)
    backward = sample_intent(list(reversed(_examples())), "describe_situation", "scam_type", 3)
    assert sorted(m.get(TEXT) for m in forward) == sorted(m.get(TEXT) for m in backward)


def test_component_returns_thinned_training_data_and_leaves_inference_alone() -> None:
    sampler = IntentSampler({"intent": "describe_situation", "label_key": "scam_type", "per_label": 2})
    original = TrainingData(training_examples=_examples())
    thinned = sampler.process_training_data(original)
    assert len(thinned.intent_examples) == 2 + 2 + 25
    assert len(original.intent_examples) == 55  # the classifier before it saw all of them
    message = Message(data={TEXT: "你好"})
    assert sampler.process([message]) == [message]


def test_half_the_quota_goes_to_short_lines_when_most_texts_are_long() -> None:
    long_texts = [_situation("【某平台】" + "您的账户存在异常请点击链接处理" * 3 + str(i), "phishing_sms") for i in range(40)]
    short_texts = [_situation(f"有人发短信说我中奖了{i}", "phishing_sms") for i in range(6)]
    kept = sample_intent(long_texts + short_texts, "describe_situation", "scam_type", 8)
    lengths = sorted(len(m.get(TEXT)) for m in kept)
    assert len(kept) == 8
    assert sum(n <= 30 for n in lengths) == 4  # half the quota: the short ones
    assert sum(n > 30 for n in lengths) == 4  # and still long pasted texts


def test_with_few_short_lines_the_long_texts_fill_the_quota() -> None:
    long_texts = [_situation("对方说" + "先交保证金才能放款" * 4 + str(i), "fake_loan") for i in range(10)]
    kept = sample_intent(long_texts + [_situation("贷款要先交钱", "fake_loan")], "describe_situation", "scam_type", 6)
    assert len(kept) == 6 and "贷款要先交钱" in [m.get(TEXT) for m in kept]
