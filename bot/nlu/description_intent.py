"""Rasa component: a message that reads like a scam is a description, even when DIET hesitates.

DIET learns "what the resident wants to do" from a sample of the descriptions
(bot/nlu/intent_sampler.py), so a short first line it has not seen the like of
("有个人在微信上说是我表哥，换了新号") can come out below the fallback threshold, split
between several dialogue intents. The scam-type ranking (bot/nlu/scam_classifier.py)
learned from every description and is sure the text is a scam. When DIET is unsure and the
ranking says "scam" with at least `min_scam_probability`, the message becomes
`describe_situation` with that probability and the other intents share the rest in their
old proportions. It sits after DIET and before FallbackClassifier; it is not trained.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.kb.classifier import scam_probability
from bot.nlu.scam_classifier import RANKING_KEY, SITUATION_INTENT

CONFIDENCE = "confidence"
NAME = "name"


def promote_description(
    intent: Dict[str, Any], ranking: List[Dict[str, Any]], probability: float
) -> tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """`describe_situation` first with `probability`; the others rescaled to share the rest."""
    others = [entry for entry in ranking if entry.get(NAME) != SITUATION_INTENT]
    total = sum(float(entry.get(CONFIDENCE) or 0.0) for entry in others)
    scale = (1.0 - probability) / total if total > 0 else 0.0
    top = {**intent, NAME: SITUATION_INTENT, CONFIDENCE: probability}
    rescaled = [
        {**entry, CONFIDENCE: float(entry.get(CONFIDENCE) or 0.0) * scale} for entry in others
    ]
    return top, [dict(top), *rescaled]


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class DescriptionIntent(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # DIET at or above this is left alone (FallbackClassifier's threshold + margin).
            "max_intent_confidence": 0.6,
            # The ranking must be at least this sure the text is a scam.
            "min_scam_probability": 0.6,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._max_intent_confidence = float(config["max_intent_confidence"])
        self._min_scam_probability = float(config["min_scam_probability"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "DescriptionIntent":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._process_one(message)
        return messages

    def _process_one(self, message: Message) -> None:
        intent = message.get(INTENT) or {}
        if intent.get(NAME) == SITUATION_INTENT:
            return
        if float(intent.get(CONFIDENCE) or 0.0) >= self._max_intent_confidence:
            return
        probability = scam_probability(message.get(RANKING_KEY))
        if probability < self._min_scam_probability:
            return
        top, ranking = promote_description(
            intent, message.get(INTENT_RANKING_KEY) or [], probability
        )
        message.set(INTENT, top, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
