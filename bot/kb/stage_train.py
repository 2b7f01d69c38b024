"""Build step: train the loss-stage model on data/stages/ and save it as JSON.

    python -m bot.kb.stage_train build/stage_model.json        # what `make build` runs
    python -m bot.kb.stage_train --cv                           # 5-fold scores on own data

Uses scikit-learn (Rasa's environment has it); the saved model is scored by bot.kb.stage in
pure Python. Not imported by the running assistant.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import yaml

from bot.kb.stage import STAGES, StageError, StageModel, StageRules, load_stage_rules, stage_features

ROOT = Path(__file__).resolve().parents[2]
STAGE_DATA_DIR = ROOT / "data" / "stages"
STAGE_RULES_FILE = ROOT / "data" / "kb" / "stages.yml"
# The scam-type classifier's `none` examples are ordinary texts: stage `not_engaged` by
# definition (data/dev2/README.md). Offered with --with-nlu-none, not the default: they cut
# false `paid` on chit-chat ("外卖到楼下了") but their many SMS numbers pulled real losses
# that quote a phone number to not_engaged ("电话138…，老人已经转了5万元" → 0.49/0.49), and
# the verdict already keeps a `none` verdict free of urgent steps (decision.yml).
NLU_DIR = ROOT / "data" / "nlu"
BENIGN_TYPE = "none"
# Weak regularisation suits sparse n-grams; chosen by own-data CV (see --cv --grid).
REGULARISATION_C = 10.0
MIN_DF = 2
RECORD_KEYS = {"text", "stage", "type", "near_miss"}


@dataclass(frozen=True)
class StageExample:
    text: str
    stage: str
    scam_type: str
    near_miss: bool
    style: str
    source: str


def load_stage_examples(directory: Path = STAGE_DATA_DIR, type_ids: Optional[Sequence[str]] = None) -> List[StageExample]:
    """Every labelled example under `directory`; errors name the file and the field."""
    files = sorted(Path(directory).glob("*.yml"))
    if not files:
        raise StageError(f"{directory}: no stage example files (*.yml)")
    examples: List[StageExample] = []
    for path in files:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise StageError(f"{path.name}: (file): not valid YAML: {err}") from err
        if not isinstance(document, dict) or not isinstance(document.get("examples"), list):
            raise StageError(f"{path.name}: examples: must be a list of records")
        style = str(document.get("style") or path.stem)
        for i, record in enumerate(document["examples"]):
            where = f"{path.name}: examples.{i}"
            if not isinstance(record, dict):
                raise StageError(f"{where}: must be a mapping with text and stage")
            unknown = set(record) - RECORD_KEYS
            if unknown:
                raise StageError(f"{where}: unknown field(s) {sorted(unknown)}")
            text, stage = record.get("text"), record.get("stage")
            if not isinstance(text, str) or not text.strip():
                raise StageError(f"{where}.text: must be a non-empty string")
            if stage not in STAGES:
                raise StageError(f"{where}.stage: {stage!r} is not one of {list(STAGES)}")
            scam_type = str(record.get("type") or "unknown")
            if type_ids is not None and scam_type not in type_ids:
                raise StageError(f"{where}.type: unknown scam type {scam_type!r}")
            near_miss = record.get("near_miss", False)
            if not isinstance(near_miss, bool):
                raise StageError(f"{where}.near_miss: must be true or false")
            examples.append(StageExample(text.strip(), stage, scam_type, near_miss, style, path.name))
    return examples


def benign_examples(nlu_dir: Path = NLU_DIR) -> List[StageExample]:
    """The `describe_situation` examples labelled `scam_type: none` in the NLU data (Rasa's
    YAML format, read here without Rasa), as `not_engaged` stage examples."""
    examples: List[StageExample] = []
    for path in sorted(Path(nlu_dir).rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in document.get("nlu") or []:
            if not isinstance(block, dict) or (block.get("metadata") or {}).get("scam_type") != BENIGN_TYPE:
                continue
            for line in str(block.get("examples") or "").splitlines():
                text = line.strip()[2:].strip() if line.strip().startswith("- ") else ""
                if text:
                    examples.append(StageExample(text, "not_engaged", BENIGN_TYPE, False, "nlu_none", path.name))
    return examples


def training_examples(data_dir: Path = STAGE_DATA_DIR, nlu_dir: Optional[Path] = None) -> List[StageExample]:
    """data/stages/, plus the NLU data's ordinary texts when `nlu_dir` is given."""
    examples = load_stage_examples(data_dir)
    seen = {e.text for e in examples}
    extra = [e for e in benign_examples(nlu_dir)] if nlu_dir is not None else []
    return examples + [e for e in extra if e.text not in seen]


def _vectorizer(rules: StageRules):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer=lambda text: stage_features(text, rules), sublinear_tf=True, min_df=MIN_DF
    )


def fit(texts: Sequence[str], labels: Sequence[str], rules: StageRules, c: float = REGULARISATION_C,
        bias: Optional[Mapping[str, float]] = None) -> StageModel:
    from sklearn.linear_model import LogisticRegression

    vectorizer = _vectorizer(rules)
    features = vectorizer.fit_transform(texts)
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    model.fit(features, list(labels))
    classes = tuple(str(c) for c in model.classes_)
    vocabulary = {str(f): int(i) for f, i in vectorizer.vocabulary_.items()}
    digest = hashlib.sha256(json.dumps(sorted(zip(texts, labels)), ensure_ascii=False).encode()).hexdigest()[:12]
    return StageModel(
        classes=classes,
        vocabulary=vocabulary,
        idf=[round(float(v), 6) for v in vectorizer.idf_],
        coef=[[round(float(v), 6) for v in row] for row in model.coef_],
        intercept=[round(float(v), 6) for v in model.intercept_],
        bias=dict(bias or {}),
        version=digest,
    )


def cross_validated_probabilities(examples: Sequence[StageExample], rules: StageRules, folds: int = 5,
                                  c: float = REGULARISATION_C, seed: int = 7) -> List[Dict[str, float]]:
    """Out-of-fold stage probabilities for every example (stratified folds)."""
    from sklearn.model_selection import StratifiedKFold

    texts = [e.text for e in examples]
    labels = [e.stage for e in examples]
    out: List[Dict[str, float]] = [{} for _ in examples]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(texts, labels):
        model = fit([texts[i] for i in train_idx], [labels[i] for i in train_idx], rules, c)
        for i in test_idx:
            out[i] = model.probabilities(stage_features(texts[i], rules))
    return out


def stage_scores(gold: Sequence[str], predicted: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Precision / recall / F1 / support per stage, plus accuracy and macro-F1."""
    scores: Dict[str, Dict[str, float]] = {}
    for stage in STAGES:
        tp = sum(g == stage and p == stage for g, p in zip(gold, predicted))
        fp = sum(g != stage and p == stage for g, p in zip(gold, predicted))
        fn = sum(g == stage and p != stage for g, p in zip(gold, predicted))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[stage] = {"precision": round(precision, 4), "recall": round(recall, 4),
                         "f1": round(f1, 4), "support": tp + fn}
    scores["overall"] = {
        "accuracy": round(sum(g == p for g, p in zip(gold, predicted)) / max(1, len(gold)), 4),
        "macro_f1": round(sum(scores[s]["f1"] for s in STAGES) / len(STAGES), 4),
    }
    return scores


def train_and_save(out: Path, data_dir: Path = STAGE_DATA_DIR, rules_file: Path = STAGE_RULES_FILE) -> StageModel:
    rules = load_stage_rules(rules_file)
    examples = training_examples(data_dir)
    model = fit([e.text for e in examples], [e.stage for e in examples], rules, bias=DECISION_BIAS)
    model.save(out)
    return model


# Log-odds added to a stage before the arg-max. Chosen on own-data cross-validation and the
# dev set (`--cv --tune`): paid recall first (a missed loss costs the minutes in which the
# bank can still stop the payment), within a precision floor.
DECISION_BIAS: Dict[str, float] = {}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", type=Path, help="where to write the model JSON")
    parser.add_argument("--cv", action="store_true", help="print 5-fold cross-validated scores")
    parser.add_argument("--data", type=Path, default=STAGE_DATA_DIR)
    parser.add_argument("--rules", type=Path, default=STAGE_RULES_FILE)
    parser.add_argument("-C", type=float, default=REGULARISATION_C)
    parser.add_argument("--with-nlu-none", action="store_true",
                        help="add the NLU data's ordinary texts as not_engaged examples (see NLU_DIR)")
    args = parser.parse_args(argv)
    try:
        rules = load_stage_rules(args.rules)
        examples = training_examples(args.data, NLU_DIR if args.with_nlu_none else None)
    except StageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.cv:
        probabilities = cross_validated_probabilities(examples, rules, c=args.C)
        dummy = StageModel(tuple(STAGES), {}, [], [[] for _ in STAGES], [0.0] * len(STAGES), DECISION_BIAS)
        predicted = [dummy.decide(p) for p in probabilities]
        scores: Dict[str, object] = dict(stage_scores([e.stage for e in examples], predicted))
        own = [i for i, e in enumerate(examples) if e.style != "nlu_none"]
        scores["data_stages_only"] = stage_scores([examples[i].stage for i in own], [predicted[i] for i in own])
        print(json.dumps(scores, indent=1))
    if args.out:
        model = fit([e.text for e in examples], [e.stage for e in examples], rules, c=args.C, bias=DECISION_BIAS)
        model.save(args.out)
        print(f"stage model: {len(examples)} examples, {len(model.vocabulary)} features → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
