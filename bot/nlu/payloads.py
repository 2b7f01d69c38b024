"""Button payloads ("/affirm", "/deny" …) skip the classifiers.

Rasa 3.6 runs the whole NLU graph on every message, a button's "/intent" payload too, and
only its last node (RegexMessageHandler) replaces the prediction with the intent the
payload names. Two of every three turns of a self-check are buttons, and DIET and the
scam-type classifier were a fifth of a Rasa replica's CPU under `make load` (py-spy,
issue 12). Here a payload gets the intent it names at confidence 1.0 at once — what
RegexMessageHandler would give it anyway — and the scam-type ranking is left out (the
actions read it from typed text only: actions.state.latest_text ignores payloads).
"""
from __future__ import annotations

from typing import List, Optional

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.constants import INTENT_MESSAGE_PREFIX
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message


def is_intent_payload(text: Optional[str]) -> bool:
    """A button's payload ("/affirm"), not something the resident typed."""
    return bool(text) and str(text).strip().startswith(INTENT_MESSAGE_PREFIX)


def payload_intent(message: Message) -> Optional[str]:
    """The intent a "/intent" payload names (Rasa's own parser), or None for typed text."""
    if not is_intent_payload(message.get(TEXT)):
        return None
    unpacked = YAMLStoryReader.unpack_regex_message(Message({TEXT: message.get(TEXT)}))
    return (unpacked.get(INTENT) or {}).get(INTENT_NAME_KEY)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR],
    is_trainable=True,
)
class PayloadAwareDIETClassifier(DIETClassifier):
    """Rasa's DIETClassifier, which leaves out the payloads of intents it knows: they get
    their own intent at confidence 1.0 (FallbackClassifier, next, then keeps it)."""

    def process(self, messages: List[Message]) -> List[Message]:
        known = set(self.index_label_id_mapping.values())
        typed = []
        for message in messages:
            intent = payload_intent(message)
            if intent is not None and intent in known:
                named = {INTENT_NAME_KEY: intent, "confidence": 1.0}
                message.set(INTENT, named, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [named], add_to_output=True)
            else:
                typed.append(message)
        super().process(typed)
        return messages
