"""Rasa's check of the action server's answer, with its JSON schema compiled once.

Rasa 3.6 (`RemoteAction._validate_action_result`) calls `jsonschema.validate()` on every
custom action's response, and that re-checks the constant schema against the JSON Schema
metaschema each time: with jsonschema 4.17 about 40 % of a whole chat turn (py-spy of
`make bench`, issue 12). The same validation, the same errors (best match, Rasa's hint
appended), with the schema checked once per process. Installed by bot.nlu.normalizer, the
pipeline's first component, so every Rasa process that loads our model has it.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Text

from jsonschema import ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@lru_cache(maxsize=1)
def response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # what jsonschema.validate() did on every call
    return cls(schema)


def validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    error = best_match(response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (  # Rasa's own wording (rasa/core/actions/action.py)
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


__all__ = ["ValidationError", "install", "response_validator", "validate_action_result"]
