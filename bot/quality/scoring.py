"""What the evaluation and the tuning both score with: the label map, the report, our examples."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[2]
# The source labels credit-record scams as loans (../shared/eval/README.md).
LABEL_MAP = {"fake_credit_repair": "fake_loan"}


def map_prediction(scam_type: str) -> str:
    return LABEL_MAP.get(scam_type, scam_type)


def classification_report(gold: Sequence[str], pred: Sequence[str]) -> Dict:
    """Per-class P/R/F1 over the gold classes, macro-F1, fraud recall, false alarms."""
    classes = sorted(set(gold))
    per_class = {}
    for label in classes:
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        predicted = sum(p == label for p in pred)
        actual = sum(g == label for g in gold)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4), "support": actual,
        }
    fraud = [(g, p) for g, p in zip(gold, pred) if g != "none"]
    normal = [p for g, p in zip(gold, pred) if g == "none"]
    return {
        "per_class": per_class,
        "macro_f1": round(sum(c["f1"] for c in per_class.values()) / len(per_class), 4),
        "accuracy": round(sum(g == p for g, p in zip(gold, pred)) / len(gold), 4),
        # Any scam type or `unknown` on a fraud row: the fraud was detected.
        "fraud_recall": round(sum(p != "none" for _, p in fraud) / len(fraud), 4) if fraud else None,
        "fraud_type_accuracy": round(sum(g == p for g, p in fraud) / len(fraud), 4) if fraud else None,
        "false_alarm_rate": round(sum(p != "none" for p in normal) / len(normal), 4) if normal else None,
        "rows": len(gold),
    }


def own_examples() -> Tuple[List[str], List[str]]:
    """(texts, scam type labels) of the project's own NLU data."""
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.nlu.scam_classifier import situation_examples

    return situation_examples(load_data(str(ROOT / "data" / "nlu")))
