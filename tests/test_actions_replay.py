"""Replays the end-to-end test stories (tests/stories) through the real actions, with the
trained model's NLU, and checks what `rasa test` cannot see: the scam type the bot names
(`check_type` in the stories) and the type of the final verdict.

`rasa test` replays the stories without running custom actions; here every custom action
really runs on the slots the previous ones set, like in a live conversation. Needs a trained
model: $RASA_MODEL, else models/current.tar.gz; skipped when there is none.
"""
from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from test_actions import Conversation

ROOT = Path(__file__).resolve().parents[1]
STORY_FILES = sorted((ROOT / "tests" / "stories").glob("test_*.yml"))
MODEL = Path(os.environ.get("RASA_MODEL") or ROOT / "models" / "current.tar.gz")

# entity annotations in story text: [五万](amount) or [五万]{"entity": "amount", ...}
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]+\)|\{[^}]+\})")

pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason=f"no trained model at {MODEL}")


def _stories() -> List[Dict[str, Any]]:
    stories = []
    for path in STORY_FILES:
        for story in yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]:
            stories.append(pytest.param(story, id=f"{path.stem}: {story['story']}"))
    return stories


def _custom_actions() -> Dict[str, Any]:
    """Every custom action of the action server package, by name."""
    from rasa_sdk import Action

    import actions.fallback
    import actions.faq
    import actions.outreach
    import actions.selfcheck

    found = {}
    for module in (actions.faq, actions.fallback, actions.selfcheck, actions.outreach):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Action) and value.__module__ == module.__name__:
                found[value().name()] = value()
    return found


@pytest.fixture(scope="module")
def nlu():
    from rasa.core.agent import Agent

    loop = asyncio.new_event_loop()
    agent = Agent.load(str(MODEL))

    def parse(text: str) -> Dict[str, Any]:
        return loop.run_until_complete(agent.parse_message(text))

    yield parse
    loop.close()


@pytest.fixture(scope="module")
def custom_actions() -> Dict[str, Any]:
    return _custom_actions()


@pytest.mark.parametrize("story", _stories())
def test_story_through_the_actions(nlu, custom_actions, story):
    chat = Conversation()
    latest: Dict[str, Any] = {}
    expected_type = None
    for step in story["steps"]:
        if "user" in step:
            latest = nlu(ANNOTATION.sub(r"\1", step["user"].strip()))
            assert latest["intent"]["name"] == step["intent"], latest["text"]
        elif "intent" in step:
            latest = {"text": "/" + step["intent"], "intent": {"name": step["intent"]}, "entities": []}
        elif "action" in step and step["action"] in custom_actions:
            chat.run(custom_actions[step["action"]], latest)
            assert chat.messages, f"{step['action']} said nothing"
        elif "slot_was_set" in step:
            for slot in step["slot_was_set"]:
                (name, value), = slot.items()
                assert chat.slots.get(name) == value, (name, chat.slots.get("description"))
                if name == "check_type":
                    expected_type = value
        if chat.verdict is not None and expected_type is not None:
            assert chat.verdict["scam_type"] == expected_type, chat.texts[0]
