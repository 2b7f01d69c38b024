"""Rasa component: DIET sees a bounded, stratified sample of the scam descriptions.

The scam-type classifier (earlier in the pipeline) learns from every `describe_situation`
example. DIET only has to tell "describing a situation" from the dialogue intents (yes/no,
FAQ, report a loss …), and thousands of long pasted scam texts against a few dozen
examples per dialogue intent both slow its training several-fold and pull short questions
such as "老师在群里收钱，怎么核实" into `describe_situation`. So components after this one
train on at most `per_label` descriptions per scam type, chosen by a stable hash of the
text (the same sample on every machine), half of it from short texts when there are enough.
Nothing changes at inference time.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, METADATA, METADATA_INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# A description this short is one line a resident types, not a pasted message.
SHORT_CHARS = 30


def _stable_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _label(message: Message, label_key: str) -> str:
    metadata = (message.get(METADATA) or {}).get(METADATA_INTENT) or {}
    return str(metadata.get(label_key) or "")


def sample_intent(
    examples: List[Message], intent: str, label_key: str, per_label: int
) -> List[Message]:
    """Every example of other intents; at most `per_label` of `intent` per label."""
    groups: Dict[str, List[Message]] = defaultdict(list)
    kept: List[Message] = []
    for message in examples:
        if message.get(INTENT) == intent:
            groups[_label(message, label_key)].append(message)
        else:
            kept.append(message)
    for members in groups.values():
        kept.extend(_stratified(members, per_label))
    return kept


def _stratified(members: List[Message], per_label: int) -> List[Message]:
    """Up to half the quota from short texts, the rest from all, each by the stable hash.

    Most examples are long pasted texts, but a resident's first message is often one short
    line ("有人说是我表哥，换了新号"): a sample of long texts alone taught DIET that short
    lines belong to the dialogue intents."""
    members = sorted(members, key=lambda m: _stable_key(m.get(TEXT) or ""))
    short = [m for m in members if len(m.get(TEXT) or "") <= SHORT_CHARS][: per_label // 2]
    chosen = {id(m) for m in short}
    rest = [m for m in members if id(m) not in chosen][: per_label - len(short)]
    return short + rest


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class IntentSampler(GraphComponent):
    """Thins one intent's training examples for the components after it."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"intent": "describe_situation", "label_key": "scam_type", "per_label": 40}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._intent = str(config["intent"])
        self._label_key = str(config["label_key"])
        self._per_label = int(config["per_label"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "IntentSampler":
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        kept = sample_intent(
            training_data.training_examples, self._intent, self._label_key, self._per_label
        )
        return TrainingData(
            training_examples=kept,
            entity_synonyms=training_data.entity_synonyms,
            regex_features=training_data.regex_features,
            lookup_tables=training_data.lookup_tables,
            responses=training_data.responses,
        )

    def process(self, messages: List[Message]) -> List[Message]:
        return messages
