"""The loss stage: how far a scam has got, from what the resident wrote.

Stages (ids are a contract, DESIGN.md), most severe first:

- `paid`: money, goods or gift cards already went to the other side (by anyone in the story);
- `credentials_given`: a code, password or card number given, a screen shared, a remote-control
  or "meeting" app installed on their instruction;
- `on_the_call`: the scammer is on the line or in the chat right now;
- `asked_to_pay`: asked to pay or hand something over, nothing gone yet (near misses included);
- `not_engaged`: only contacted, or nothing to do with a scam.

Why a learnt model and not only rules: residents tell a loss in endless ways ("取不出来了",
"扫了他给的码", "把那串数字念给他了") and deny one in as many ("差点就转了", "我沒有轉"). A
linear model over character n-grams learns both from labelled examples (data/stages/); the
knowledge base adds what a regular expression alone cannot: *scopes* — n-grams that follow a
negation, a hypothesis, a near miss or an intention are features of their own ("neg:转了"),
so "没有转了" and "转了" pull apart — and a few *rules* whose matches are features too, i.e.
evidence the model weighs, not the only path (data/kb/stages.yml).

The model is trained at build time (`bot.kb.stage_train`, scikit-learn) and saved as plain
JSON that this module scores in pure Python, so every process — Rasa's, the action server's
and the gateway's, on any Python — loads the same file without scikit-learn.
"""
from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from cachetools import LRUCache

from bot.kb.models import ID_PATTERN, valid_regexes
from bot.kb.pydantic_v1 import Field, validator
from bot.kb.text import normalize
from bot.kb.yaml_io import StrictModel, load_yaml_model

# Most severe first: combining stages keeps the most severe one.
STAGES: Tuple[str, ...] = ("paid", "credentials_given", "on_the_call", "asked_to_pay", "not_engaged")
SEVERITY = {stage: len(STAGES) - i for i, stage in enumerate(STAGES)}
URGENT_STAGES = frozenset({"paid", "credentials_given"})
DEFAULT_STAGE = "not_engaged"
NGRAM_MAX = 3
SCOPED_NGRAM_MAX = 2
MAX_CHARS = 2000  # a longer text is scored on its start and its end (where stories conclude)
_CLAUSE = re.compile(r"[。！？!?；;，,、\n\r\t ]+")
_QUESTION_END = re.compile(r"(吗|么|嘛|呢|没有|没)$")


class StageError(ValueError):
    """A stage file (rules or model) is invalid; the message names the file and the field."""


# -- knowledge-base data (data/kb/stages.yml) ---------------------------------------------------


class Scope(StrictModel):
    id: str = Field(regex=ID_PATTERN)
    reach: int = Field(ge=1, le=40)  # characters after the cue that it governs
    patterns: List[str] = Field(min_items=1)
    # The reach goes on over a comma into the next clause ("没有，一分钱都没转过去",
    # "差点，就把钱转了"), never over a sentence end.
    crosses_comma: bool = False

    _valid = validator("patterns", allow_reuse=True)(valid_regexes)


class StageRule(StrictModel):
    id: str = Field(regex=ID_PATTERN)
    stage: str
    patterns: List[str] = Field(min_items=1)

    _valid = validator("patterns", allow_reuse=True)(valid_regexes)

    @validator("stage")
    def _known_stage(cls, value: str) -> str:
        if value not in STAGES:
            raise ValueError(f"unknown stage {value!r}; one of {list(STAGES)}")
        return value


class StageRules(StrictModel):
    scopes: List[Scope] = Field(default_factory=list)
    signals: List[StageRule] = Field(default_factory=list)

    @cached_property
    def compiled_scopes(self) -> List[Tuple[str, int, re.Pattern]]:
        return [(s.id, s.reach, re.compile("|".join(f"(?:{p})" for p in s.patterns))) for s in self.scopes]

    @cached_property
    def comma_crossing(self) -> frozenset:
        return frozenset(s.id for s in self.scopes if s.crosses_comma)

    @cached_property
    def compiled_rules(self) -> List[Tuple[StageRule, List[re.Pattern]]]:
        return [(r, [re.compile(p) for p in r.patterns]) for r in self.signals]

    class Config:
        keep_untouched = (cached_property,)
        extra = "forbid"
        allow_mutation = False


def load_stage_rules(path: Path) -> StageRules:
    return load_yaml_model(path, StageRules, StageError)


# -- features ---------------------------------------------------------------------------------


_SENTENCE_END = re.compile(r"[。！？!?；;\n\r]")


def _clauses_with_tags(norm: str, rules: StageRules) -> List[Tuple[str, List[List[str]]]]:
    """Each clause with, for each of its characters, the scopes (negation, hypothesis …) it
    lies in; a `crosses_comma` scope's remaining reach carries into the next clause of the
    same sentence."""
    out: List[Tuple[str, List[List[str]]]] = []
    carried: Dict[str, int] = {}
    pos = 0
    for match in list(_CLAUSE.finditer(norm)) + [None]:
        end = match.start() if match else len(norm)
        clause = norm[pos:end]
        if clause:
            tags, carry_out = _scope_tags(clause, rules, carried)
            out.append((clause, tags))
            carried = carry_out
        if match is None:
            break
        if _SENTENCE_END.search(match.group()):
            carried = {}
        pos = match.end()
    return out


def _scope_tags(
    clause: str, rules: StageRules, carried: Optional[Mapping[str, int]] = None
) -> Tuple[List[List[str]], Dict[str, int]]:
    """Per character the scopes it lies in, and the reach left over past the clause's end."""
    tags: List[List[str]] = [[] for _ in clause]
    carry_out: Dict[str, int] = {}
    for scope_id, remaining in (carried or {}).items():
        for i in range(min(len(clause), remaining)):
            if scope_id not in tags[i]:
                tags[i].append(scope_id)
    for scope_id, reach, pattern in rules.compiled_scopes:
        for match in pattern.finditer(clause):
            for i in range(match.end(), min(len(clause), match.end() + reach)):
                if scope_id not in tags[i]:
                    tags[i].append(scope_id)
            left = match.end() + reach - len(clause)
            if left > 0 and scope_id in rules.comma_crossing:
                carry_out[scope_id] = max(carry_out.get(scope_id, 0), left)
    return tags, carry_out


def _rule_features(norm: str, rules: StageRules) -> List[str]:
    """`R:<stage>` per rule match; `R:<stage>:<scope>` when the match lies in a scope."""
    features = []
    for clause, tags in _clauses_with_tags(norm, rules):
        for rule, patterns in rules.compiled_rules:
            for pattern in patterns:
                match = pattern.search(clause)
                if match:
                    scopes = tags[match.start()] if match.start() < len(tags) else []
                    features.append(f"R:{rule.stage}")
                    features.extend(f"R:{rule.stage}:{s}" for s in scopes)
                    break
    return features


def stage_features(text: str, rules: StageRules) -> List[str]:
    """The model's features: clause n-grams, scoped n-grams, question clauses and rule hits."""
    norm = normalize(text or "").lower()
    if len(norm) > MAX_CHARS:
        half = MAX_CHARS // 2
        norm = norm[:half] + "\n" + norm[-half:]
    features: List[str] = []
    for clause, tags in _clauses_with_tags(norm, rules):
        padded = f"^{clause}$"
        for n in range(1, NGRAM_MAX + 1):
            features.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
        for i, scopes in enumerate(tags):
            for scope in scopes:
                for n in range(1, SCOPED_NGRAM_MAX + 1):
                    if i + n <= len(clause):
                        features.append(f"{scope}:{clause[i:i + n]}")
        if _QUESTION_END.search(clause):
            features.extend(f"q:{clause[i:i + 2]}" for i in range(len(clause) - 1))
    features.extend(_rule_features(norm, rules))
    return features


# -- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageResult:
    stage: str
    confidence: float
    probabilities: Dict[str, float] = field(default_factory=dict)

    @property
    def money_lost(self) -> bool:
        return self.stage == "paid"

    @property
    def urgent(self) -> bool:
        return self.stage in URGENT_STAGES


@dataclass(frozen=True)
class StageModel:
    """Multinomial logistic regression over TF-IDF features, exported from scikit-learn."""

    classes: Tuple[str, ...]
    vocabulary: Mapping[str, int]
    idf: Sequence[float]
    coef: Sequence[Sequence[float]]  # one row per class
    intercept: Sequence[float]
    # Log-odds added per stage before the arg-max (chosen on own-data CV and the dev set).
    bias: Mapping[str, float] = field(default_factory=dict)
    version: str = ""

    def __post_init__(self) -> None:
        if set(self.classes) != set(STAGES):
            raise StageError(f"model classes {sorted(self.classes)} are not the stages {sorted(STAGES)}")
        if len(self.coef) != len(self.classes) or len(self.intercept) != len(self.classes):
            raise StageError("model: coef/intercept rows do not match the classes")
        if any(len(row) != len(self.idf) for row in self.coef):
            raise StageError("model: a coef row does not match the vocabulary size")

    # -- scoring --------------------------------------------------------------------------------
    def _weights(self, features: Iterable[str]) -> Dict[int, float]:
        counts = Counter(self.vocabulary[f] for f in features if f in self.vocabulary)
        weights = {i: (1.0 + math.log(n)) * self.idf[i] for i, n in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {i: w / norm for i, w in weights.items()}

    def raw_scores(self, features: Iterable[str]) -> Dict[str, float]:
        weights = self._weights(features)
        return {
            label: self.intercept[k] + sum(self.coef[k][i] * w for i, w in weights.items())
            for k, label in enumerate(self.classes)
        }

    def probabilities(self, features: Iterable[str]) -> Dict[str, float]:
        scores = self.raw_scores(features)
        top = max(scores.values())
        exp = {label: math.exp(s - top) for label, s in scores.items()}
        total = sum(exp.values())
        return {label: v / total for label, v in exp.items()}

    def decide(self, probabilities: Mapping[str, float], bias: Optional[Mapping[str, float]] = None) -> str:
        bias = self.bias if bias is None else bias
        return max(
            STAGES,
            key=lambda s: math.log(max(probabilities.get(s, 0.0), 1e-12)) + bias.get(s, 0.0),
        )

    # -- files ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "classes": list(self.classes),
            "vocabulary": dict(self.vocabulary),
            "idf": list(self.idf),
            "coef": [list(row) for row in self.coef],
            "intercept": list(self.intercept),
            "bias": dict(self.bias),
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "StageModel":
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(
                classes=tuple(raw["classes"]),
                vocabulary=raw["vocabulary"],
                idf=raw["idf"],
                coef=raw["coef"],
                intercept=raw["intercept"],
                bias=raw.get("bias", {}),
                version=raw.get("version", ""),
            )
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise StageError(f"{path}: cannot load the stage model: {err}") from err


# -- entry points -----------------------------------------------------------------------------


def rule_stage(text: str, rules: StageRules) -> str:
    """Without a trained model: the most severe rule that matches outside every scope."""
    found = [f for f in _rule_features(normalize(text or "").lower(), rules)]
    plain = {f.split(":")[1] for f in found if f.count(":") == 1}
    scoped = {f.split(":")[1] for f in found if f.count(":") == 2}
    for stage in STAGES:
        if stage in plain and stage not in scoped:
            return stage
    return DEFAULT_STAGE


# Stages of the latest texts: a self-check judges each of its turns again on every answer
# (a tenth of the action server's CPU under `make load`). Keyed by the text and the rules
# and model objects, which the entry holds, so a KB or model reload is never served stale.
REMEMBERED_STAGES = 4096
_recent: LRUCache = LRUCache(maxsize=REMEMBERED_STAGES)
_recent_lock = threading.Lock()


def assess_stage(text: str, rules: StageRules, model: Optional[StageModel] = None) -> StageResult:
    """The stage of one message or description."""
    if not (text or "").strip():
        return StageResult(DEFAULT_STAGE, 1.0, {})
    key = (text, id(rules), id(model))
    with _recent_lock:
        known = _recent.get(key)
    if known is not None and known[0] is rules and known[1] is model:
        return known[2]
    result = _judge_stage(text, rules, model)
    with _recent_lock:
        _recent[key] = (rules, model, result)
    return result


def _judge_stage(text: str, rules: StageRules, model: Optional[StageModel]) -> StageResult:
    if model is None:
        return StageResult(rule_stage(text, rules), 0.5, {})
    probabilities = model.probabilities(stage_features(text, rules))
    stage = model.decide(probabilities)
    return StageResult(stage, probabilities[stage], probabilities)


def most_severe(stages: Iterable[Optional[str]]) -> str:
    """Combine stages across turns: once paid, a conversation stays paid."""
    known = [s for s in stages if s in SEVERITY]
    return max(known, key=SEVERITY.__getitem__) if known else DEFAULT_STAGE
