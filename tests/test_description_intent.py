"""DIET unsure + scam ranking sure → describe_situation; everything else untouched."""
from __future__ import annotations

from typing import Dict, List, Optional

import pytest
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.kb.classifier import scam_probability
from bot.nlu.description_intent import DescriptionIntent, promote_description
from bot.nlu.scam_classifier import RANKING_KEY


def _message(top: str, confidence: float, ranking: Optional[Dict[str, float]]) -> Message:
    second = "bot_challenge" if top != "bot_challenge" else "greet"
    intents: List[Dict[str, object]] = [
        {"name": top, "confidence": confidence},
        {"name": second, "confidence": (1 - confidence) * 0.75},
        {"name": "describe_situation", "confidence": (1 - confidence) * 0.25},
    ]
    data: Dict[str, object] = {TEXT: "有个人说是我表哥，换了新号", INTENT: dict(intents[0]),
                               INTENT_RANKING_KEY: intents}
    if ranking is not None:
        data[RANKING_KEY] = ranking
    return Message(data=data)


def _component() -> DescriptionIntent:
    return DescriptionIntent(DescriptionIntent.get_default_config())


def test_unsure_intent_and_sure_scam_become_a_description() -> None:
    message = _message("bot_challenge", 0.27, {"none": 0.17, "acquaintance_impersonation": 0.83})
    _component().process([message])
    assert message.get(INTENT) == {"name": "describe_situation", "confidence": pytest.approx(0.83)}
    ranking = message.get(INTENT_RANKING_KEY)
    assert [entry["name"] for entry in ranking] == ["describe_situation", "bot_challenge", "greet"]
    assert sum(entry["confidence"] for entry in ranking) == pytest.approx(1.0)
    # FallbackClassifier (threshold 0.45, ambiguity 0.1) keeps it
    assert ranking[0]["confidence"] - ranking[1]["confidence"] > 0.1


@pytest.mark.parametrize(
    "top, confidence, ranking",
    [
        ("affirm", 0.9, {"none": 0.1, "fake_loan": 0.9}),  # DIET is sure: its answer stands
        ("greet", 0.3, {"none": 0.7, "fake_loan": 0.3}),  # the ranking is not sure it is a scam
        ("greet", 0.3, None),  # no ranking (core-only or untrained classifier)
        ("describe_situation", 0.4, {"none": 0.1, "fake_loan": 0.9}),  # already a description
    ],
)
def test_other_messages_keep_their_intent(
    top: str, confidence: float, ranking: Optional[Dict[str, float]]
) -> None:
    message = _message(top, confidence, ranking)
    before = (dict(message.get(INTENT)), list(message.get(INTENT_RANKING_KEY)))
    _component().process([message])
    assert (message.get(INTENT), message.get(INTENT_RANKING_KEY)) == before


def test_thresholds_come_from_the_config() -> None:
    strict = DescriptionIntent({"max_intent_confidence": 0.6, "min_scam_probability": 0.9})
    message = _message("bot_challenge", 0.27, {"none": 0.17, "acquaintance_impersonation": 0.83})
    strict.process([message])
    assert message.get(INTENT)["name"] == "bot_challenge"


def test_scam_probability_is_one_minus_benign() -> None:
    assert scam_probability({"none": 0.25, "fake_loan": 0.5, "investment": 0.25}) == 0.75
    assert scam_probability(None) == 0.0
    assert scam_probability({}) == 0.0


def test_promotion_with_an_empty_ranking_keeps_only_the_description() -> None:
    top, ranking = promote_description({"name": "greet", "confidence": 0.2}, [], 0.7)
    assert top == {"name": "describe_situation", "confidence": 0.7}
    assert ranking == [top]
