"""Rasa's check of action server answers, with the schema compiled once (bot/nlu/action_validation.py)."""
from __future__ import annotations

import time

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

import bot.nlu.normalizer  # noqa: F401 - installs the check in Rasa
from bot.nlu.action_validation import validate_action_result

GOOD = {"events": [{"event": "slot", "name": "check_type", "value": "fake_loan"}],
        "responses": [{"text": "听起来像「虚假贷款」诈骗。", "buttons": [{"title": "是", "payload": "/affirm"}]}]}


def test_rasa_uses_the_compiled_check():
    assert RemoteAction._validate_action_result is validate_action_result


def test_a_valid_answer_passes_and_an_invalid_one_fails_as_before():
    action = RemoteAction("action_self_check", None)
    assert action._validate_action_result(GOOD)
    bad = {"events": [{"name": "check_type"}], "responses": []}  # an event without "event"
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result(bad)
    with pytest.raises(jsonschema.ValidationError) as theirs:
        jsonschema.validate(bad, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError) as ours:
        action._validate_action_result(bad)
    assert ours.value.message.startswith(theirs.value.message)  # the same error chosen


def test_the_check_is_much_cheaper_than_jsonschema_validate():
    action = RemoteAction("action_self_check", None)
    schema = RemoteAction.action_response_format_spec()

    def timed(check) -> float:
        started = time.perf_counter()
        for _ in range(20):
            check()
        return time.perf_counter() - started

    theirs = timed(lambda: jsonschema.validate(GOOD, schema))
    ours = timed(lambda: action._validate_action_result(GOOD))
    assert ours * 5 < theirs
