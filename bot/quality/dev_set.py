"""The held-out dev set (data/dev/*.yml): texts nobody trains on, for choosing constants.

Each file holds `style: <name>` and `examples: {<scam type id>: [text, …]}`. Loading
validates every file and names the file and field of the first problem found.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional

import yaml

DEV_DIR = Path(__file__).resolve().parents[2] / "data" / "dev"


class DevSetError(ValueError):
    """A dev-set file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class DevExample:
    text: str
    label: str
    style: str
    source: str  # file name, for error messages and per-style scores


def _fail(path: Path, field: str, message: str) -> DevSetError:
    return DevSetError(f"{path.name}: {field}: {message}")


def _load_file(path: Path, valid_labels: Optional[Iterable[str]]) -> List[DevExample]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise _fail(path, "(file)", f"not valid YAML: {err}") from err
    if not isinstance(document, dict):
        raise _fail(path, "(file)", "must be a mapping with 'style' and 'examples'")
    style = document.get("style")
    if not isinstance(style, str) or not style.strip():
        raise _fail(path, "style", "must be a non-empty string")
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


def load_dev_set(
    directory: Path = DEV_DIR, valid_labels: Optional[Iterable[str]] = None
) -> List[DevExample]:
    """Every dev example, in file order; `valid_labels` (e.g. the KB's type ids) checks labels."""
    labels = list(valid_labels) if valid_labels is not None else None
    paths = sorted(directory.glob("*.yml"))
    if not paths:
        raise DevSetError(f"{directory}: no dev-set files (*.yml)")
    examples: List[DevExample] = []
    seen = {}
    for path in paths:
        for example in _load_file(path, labels):
            if example.text in seen:
                raise _fail(path, f"examples.{example.label}", f"duplicate text (also in {seen[example.text]}): {example.text[:30]}")
            seen[example.text] = path.name
            examples.append(example)
    return examples
