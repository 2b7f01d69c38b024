"""Read one YAML data file into a pydantic model, with errors that say where to look.

Shared by the knowledge base (bot/kb/loader.py) and the outreach content
(bot/outreach/quiz.py, bot/outreach/simulation.py): every problem is reported as
`<file>: <field path>: <message>` (several joined with "; "), raised as the caller's
own error type so each loader keeps its own exception.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Type, TypeVar

import yaml

from bot.kb.pydantic_v1 import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for data-file models: an unknown field (a typo) is an error, values are frozen."""

    class Config:
        extra = "forbid"
        allow_mutation = False


def field_path(loc: Iterable) -> str:
    """A pydantic error location as a dotted path: ("steps", 2, "red_flag") → steps.2.red_flag."""
    return ".".join(str(part) for part in loc)


def load_yaml_model(path: Path, model: Type[Model], error: Type[Exception]) -> Model:
    """The file's top-level mapping validated as `model`; raises `error` naming file and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise error(f"{path}: cannot read YAML: {err}") from err
    if not isinstance(raw, dict):
        raise error(f"{path}: top level must be a mapping")
    try:
        return model.parse_obj(raw)
    except ValidationError as err:
        problems = "; ".join(f"{field_path(e['loc'])}: {e['msg']}" for e in err.errors())
        raise error(f"{path}: {problems}") from err
