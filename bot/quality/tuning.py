"""Choose the verdict's decision constants (data/kb/decision.yml) on our own data only.

Inputs: out-of-fold rankings of own-data cross-validation, and rankings of data/dev by a
model trained on all own data; per text the red flags, the reassurance spans and the loss
stage (bot.kb.stage with build/stage_model.json, as the running assistant judges it) are
found once, and every candidate setting re-runs only the decision step
(`verdict.decide_type`). data/dev2 is scored with the chosen setting and reported, never
chosen on; the external evaluation file is never read here.

Selection rule: among settings whose fraud recall is at least MIN_FRAUD_RECALL on own-data
CV and on data/dev, take the lowest false-alarm rate on `none` (the worse of the two, in
steps of ALARM_STEP so that one or two texts do not decide); ties go to the higher macro-F1
(mean of both), then to the setting nearest the current one. The search is coordinate
descent over GRID from the current decision.yml (a full grid is ~10⁵ settings): each round
tries every value of one constant with the others fixed, until a round changes nothing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence, Tuple

from sklearn.model_selection import StratifiedKFold

from bot.kb.classifier import ScamTextClassifier
from bot.kb.models import DecisionConstants
from bot.quality.scoring import classification_report, map_prediction, own_examples

MIN_FRAUD_RECALL = 0.97
ALARM_STEP = 0.0025
MAX_ROUNDS = 4
GRID: Dict[str, Tuple[float, ...]] = {
    "scam_threshold": (0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3),
    "scam_slope": (0.5, 0.7, 1.0, 1.3),
    "flag_evidence": (0.1, 0.2, 0.3, 0.5, 0.7),
    "none_penalty": (0.2, 0.4, 0.6, 0.8, 1.2),
    "min_type_confidence": (0.1, 0.15, 0.3),
    "reassurance": (0.0, 1.0, 2.0, 3.0, 4.0),
    "stage_evidence": (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 20.0),
}
SETS = ("own_cv", "dev")


@dataclass
class Scored:
    """One set's gold labels, and per text what the decision step needs."""

    gold: List[str]
    evidences: list
    rankings: List[Dict[str, float]]
    urgent: List[bool]


def out_of_fold_rankings(texts: Sequence[str], labels: Sequence[str], folds: int) -> List[Dict[str, float]]:
    rankings: List[Dict[str, float]] = [{} for _ in texts]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=13)
    for train_idx, test_idx in splitter.split(texts, labels):
        model = ScamTextClassifier.train([texts[i] for i in train_idx], [labels[i] for i in train_idx])
        for i, ranking in zip(test_idx, model.rank_many([texts[i] for i in test_idx])):
            rankings[i] = ranking
    return rankings


def predictions(kb, data: Scored, constants: DecisionConstants) -> List[str]:
    from bot.kb.verdict import decide_type

    return [
        map_prediction(decide_type(kb, r, ev.hits, {}, urgent, constants, ev.reassured)[0])
        for ev, r, urgent in zip(data.evidences, data.rankings, data.urgent)
    ]


def _summary(report: Dict) -> Dict:
    return {k: report[k] for k in ("fraud_recall", "false_alarm_rate", "macro_f1", "fraud_type_accuracy")}


def score(kb, sets: Mapping[str, Scored], constants: DecisionConstants) -> Dict:
    row: Dict = {"setting": _setting(constants)}
    for name, data in sets.items():
        row[name] = _summary(classification_report(data.gold, predictions(kb, data, constants)))
    return row


def _setting(constants: DecisionConstants) -> Dict[str, float]:
    return {k: getattr(constants, k) for k in GRID}


def _admissible(row: Dict) -> bool:
    return all(row[n]["fraud_recall"] >= MIN_FRAUD_RECALL for n in SETS)


def _key(row: Dict, current: Mapping[str, float]) -> Tuple:
    worst_alarms = max(row[n]["false_alarm_rate"] for n in SETS)
    f1 = sum(row[n]["macro_f1"] for n in SETS) / len(SETS)
    distance = sum(abs(row["setting"][k] - v) for k, v in current.items())
    return (_admissible(row), -round(worst_alarms / ALARM_STEP), round(f1, 3), -distance)


def coordinate_descent(kb, sets: Mapping[str, Scored], start: DecisionConstants) -> Tuple[Dict, int]:
    """The best setting by the selection rule, and how many settings were scored."""
    current = _setting(start)
    best = score(kb, sets, start)
    scored = 1
    for _ in range(MAX_ROUNDS):
        changed = False
        for name, values in GRID.items():
            for value in values:
                if value == best["setting"][name]:
                    continue
                row = score(kb, sets, start.copy(update={**best["setting"], name: value}))
                scored += 1
                if _key(row, current) > _key(best, current):
                    best, changed = row, True
        if not changed:
            break
    return best, scored


def _stage_urgent(kb, texts: Sequence[str], stage_model) -> List[bool]:
    from bot.kb.stage import URGENT_STAGES
    from bot.kb.verdict import text_stage

    return [text_stage(kb, t, stage_model) in URGENT_STAGES for t in texts]


def prepare(kb, folds: int, stage_model=None) -> Tuple[Dict[str, Scored], Scored]:
    """(own CV and data/dev, data/dev2) ready for the decision step."""
    from bot.kb.blocklist import InMemoryBlocklist
    from bot.kb.verdict import text_evidence
    from bot.quality.dev_set import load_dev2_set, load_dev_set
    from bot.runtime.context import get_extractor

    store = InMemoryBlocklist(kb=kb)  # built-in allowlist only: no Redis, no local file
    extractor = get_extractor()
    texts, labels = own_examples()
    full = ScamTextClassifier.train(texts, labels)

    def scored(gold: Sequence[str], set_texts: Sequence[str], rankings: List[Dict[str, float]]) -> Scored:
        return Scored(
            [map_prediction(g) for g in gold],
            [text_evidence(kb, t, blocklist=store, extractor=extractor) for t in set_texts],
            rankings,
            _stage_urgent(kb, set_texts, stage_model),
        )

    dev = load_dev_set(valid_labels=kb.scam_types)
    dev2 = load_dev2_set(valid_labels=kb.scam_types)
    sets = {
        "own_cv": scored(labels, texts, out_of_fold_rankings(texts, labels, folds)),
        "dev": scored([e.label for e in dev], [e.text for e in dev], full.rank_many([e.text for e in dev])),
    }
    dev2_texts = [e.text for e in dev2]
    return sets, scored([e.label for e in dev2], dev2_texts, full.rank_many(dev2_texts))


def main(folds: int = 5, stage_model=None) -> Dict:
    from bot.kb import default_kb

    started = time.monotonic()
    kb = default_kb()
    sets, dev2 = prepare(kb, folds, stage_model)
    chosen, scored = coordinate_descent(kb, sets, kb.decision)
    chosen_constants = kb.decision.copy(update=chosen["setting"])
    current = score(kb, {**sets, "dev2": dev2}, kb.decision)
    final = score(kb, {**sets, "dev2": dev2}, chosen_constants)
    return {
        "rule": __doc__.split("Selection rule: ")[1].split("The search")[0].strip(),
        "stage_model": getattr(stage_model, "version", None),
        "current": current,
        "chosen": {**final, "admissible": _admissible(chosen)},
        "settings_scored": scored,
        "note": "dev2 is reported for the chosen setting only; it takes no part in the choice",
        "seconds": round(time.monotonic() - started, 1),
    }

