"""Button payloads skip DIET and the scam-type classifier (bot/nlu/payloads.py)."""
from __future__ import annotations

from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.payloads import PayloadAwareDIETClassifier, is_intent_payload, payload_intent
from bot.nlu.scam_classifier import RANKING_KEY, ScamTypeClassifier


def test_a_payload_is_told_from_typed_text():
    assert is_intent_payload("/affirm") and is_intent_payload("  /deny")
    assert not is_intent_payload("对方说 /affirm") and not is_intent_payload("") and not is_intent_payload(None)
    assert payload_intent(Message({TEXT: "/affirm"})) == "affirm"
    assert payload_intent(Message({TEXT: '/report_loss{"amount": "5000"}'})) == "report_loss"
    assert payload_intent(Message({TEXT: "我转了五千"})) is None


def diet_knowing(intents, monkeypatch):
    """The subclass over a stand-in DIET: what reaches Rasa's own process() is recorded."""
    seen = []

    def predict(self, messages):
        for m in messages:
            seen.append(m.get(TEXT))
            m.set(INTENT, {"name": "describe_situation", "confidence": 0.7}, add_to_output=True)
        return messages

    monkeypatch.setattr(DIETClassifier, "process", predict)
    diet = PayloadAwareDIETClassifier.__new__(PayloadAwareDIETClassifier)
    diet.index_label_id_mapping = dict(enumerate(intents))
    return diet, seen


def test_diet_gives_a_known_payload_its_intent_and_predicts_only_typed_text(monkeypatch):
    diet, seen = diet_knowing(["affirm", "deny", "describe_situation"], monkeypatch)
    button, typed = Message({TEXT: "/affirm"}), Message({TEXT: "有人让我转账到安全账户"})
    assert diet.process([button, typed]) == [button, typed]
    assert seen == ["有人让我转账到安全账户"]
    assert button.get(INTENT) == {"name": "affirm", "confidence": 1.0}
    assert button.get(INTENT_RANKING_KEY) == [{"name": "affirm", "confidence": 1.0}]
    assert typed.get(INTENT)["name"] == "describe_situation"


def test_diet_still_predicts_a_payload_of_an_intent_it_does_not_know(monkeypatch):
    # "/whatever" typed by hand: Rasa's RegexMessageHandler decides what it is, as before.
    diet, seen = diet_knowing(["affirm"], monkeypatch)
    unknown = Message({TEXT: "/whatever"})
    diet.process([unknown])
    assert seen == ["/whatever"] and unknown.get(INTENT)["name"] == "describe_situation"


class CountingClassifier:
    def __init__(self):
        self.texts = []

    def rank_many(self, texts):
        self.texts.extend(texts)
        return [{"none": 0.2, "fake_loan": 0.8} for _ in texts]


def test_the_scam_ranking_is_left_out_for_payloads():
    inner = CountingClassifier()
    component = ScamTypeClassifier(None, None, inner)
    button, typed = Message({TEXT: "/deny"}), Message({TEXT: "无抵押秒批贷款，先交解冻费"})
    component.process([button, typed])
    assert inner.texts == ["无抵押秒批贷款，先交解冻费"]
    assert button.get(RANKING_KEY) is None and typed.get(RANKING_KEY)["fake_loan"] == 0.8
    component.process([Message({TEXT: "/affirm"})])  # only payloads: nothing to rank
    assert inner.texts == ["无抵押秒批贷款，先交解冻费"]
