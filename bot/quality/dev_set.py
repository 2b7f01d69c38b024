"""The held-out dev sets: texts nobody trains on, for choosing constants.

- data/dev/*.yml: `style: <name>` and `examples: {<scam type id>: [text, …]}`;
- data/dev2/*.yml (issue 11): `style: <name>` and `examples: [{text, type, stage,
  near_miss?}, …]` — the type and the loss stage of each text.

Loading validates every file and names the file and field of the first problem found.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import yaml

DEV_DIR = Path(__file__).resolve().parents[2] / "data" / "dev"
DEV2_DIR = Path(__file__).resolve().parents[2] / "data" / "dev2"
# The loss stages (bot.kb.stage.STAGES; repeated here so loading needs no model code).
STAGE_IDS = ("paid", "credentials_given", "on_the_call", "asked_to_pay", "not_engaged")
DEV2_KEYS = {"text", "type", "stage", "near_miss"}


class DevSetError(ValueError):
    """A dev-set file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class DevExample:
    text: str
    label: str
    style: str
    source: str  # file name, for error messages and per-style scores
    stage: Optional[str] = None  # data/dev2 only: the loss stage
    near_miss: bool = False  # data/dev2 only: cues of a more severe stage it is not in


def _fail(path: Path, field: str, message: str) -> DevSetError:
    return DevSetError(f"{path.name}: {field}: {message}")


def _read_header(path: Path) -> Tuple[Dict[str, Any], str]:
    """A dev-set file's YAML mapping and its `style` (both formats start the same way)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise _fail(path, "(file)", f"not valid YAML: {err}") from err
    if not isinstance(document, dict):
        raise _fail(path, "(file)", "must be a mapping with 'style' and 'examples'")
    style = document.get("style")
    if not isinstance(style, str) or not style.strip():
        raise _fail(path, "style", "must be a non-empty string")
    return document, style


def _load_file(path: Path, valid_labels: Optional[Iterable[str]]) -> List[DevExample]:
    document, style = _read_header(path)
    groups = document.get("examples")
    if not isinstance(groups, dict) or not groups:
        raise _fail(path, "examples", "must map scam type ids to lists of texts")
    allowed = set(valid_labels) if valid_labels is not None else None
    examples = []
    for label, texts in groups.items():
        if allowed is not None and label not in allowed:
            raise _fail(path, f"examples.{label}", "unknown scam type id")
        if not isinstance(texts, list) or not texts:
            raise _fail(path, f"examples.{label}", "must be a non-empty list of texts")
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise _fail(path, f"examples.{label}[{i}]", "must be a non-empty string")
            examples.append(DevExample(text.strip(), label, style, path.name))
    return examples


def _load_records(path: Path, valid_labels: Optional[Iterable[str]]) -> List[DevExample]:
    """One data/dev2 file: a list of {text, type, stage, near_miss?} records."""
    document, style = _read_header(path)
    records = document.get("examples")
    if not isinstance(records, list) or not records:
        raise _fail(path, "examples", "must be a non-empty list of records")
    allowed = set(valid_labels) if valid_labels is not None else None
    examples = []
    for i, record in enumerate(records):
        where = f"examples[{i}]"
        if not isinstance(record, dict):
            raise _fail(path, where, "must be a mapping with text, type and stage")
        unknown = set(record) - DEV2_KEYS
        if unknown:
            raise _fail(path, where, f"unknown field(s) {sorted(unknown)}")
        text, label, stage = record.get("text"), record.get("type"), record.get("stage")
        if not isinstance(text, str) or not text.strip():
            raise _fail(path, f"{where}.text", "must be a non-empty string")
        if not isinstance(label, str) or (allowed is not None and label not in allowed):
            raise _fail(path, f"{where}.type", f"unknown scam type id {label!r}")
        if stage not in STAGE_IDS:
            raise _fail(path, f"{where}.stage", f"{stage!r} is not one of {list(STAGE_IDS)}")
        near_miss = record.get("near_miss", False)
        if not isinstance(near_miss, bool):
            raise _fail(path, f"{where}.near_miss", "must be true or false")
        examples.append(DevExample(text.strip(), label, style, path.name, stage, near_miss))
    return examples


def load_dev_set(
    directory: Path = DEV_DIR, valid_labels: Optional[Iterable[str]] = None
) -> List[DevExample]:
    """Every dev example, in file order; `valid_labels` (e.g. the KB's type ids) checks labels."""
    return _load_all(directory, valid_labels, _load_file)


def load_dev2_set(
    directory: Path = DEV2_DIR, valid_labels: Optional[Iterable[str]] = None
) -> List[DevExample]:
    """The second dev set (type and stage per text), in file order."""
    return _load_all(directory, valid_labels, _load_records)


def _load_all(directory: Path, valid_labels: Optional[Iterable[str]], load_file) -> List[DevExample]:
    labels = list(valid_labels) if valid_labels is not None else None
    paths = sorted(directory.glob("*.yml"))
    if not paths:
        raise DevSetError(f"{directory}: no dev-set files (*.yml)")
    examples: List[DevExample] = []
    seen = {}
    for path in paths:
        for example in load_file(path, labels):
            if example.text in seen:
                raise _fail(path, f"examples.{example.label}", f"duplicate text (also in {seen[example.text]}): {example.text[:30]}")
            seen[example.text] = path.name
            examples.append(example)
    return examples
