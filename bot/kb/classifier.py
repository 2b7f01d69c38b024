"""Scam-type text classifier: character n-gram TF-IDF + two logistic regressions.

Stage 1 decides "scam or not" (every scam example pooled against the benign ones),
stage 2 ranks the scam types; P(type) = P(scam) · P(type | scam), P(none) = 1 − P(scam).
Pooling matters: what scams share (转账, 账户, 借钱 …) is learnt from all of them, so a
scam told in words that fit no single type still counts as a scam.

The model's ranking carries the raw P(scam) (`scam_threshold` 0.5). The verdict engine
recalibrates it (`recalibrate`) with the knowledge base's `scam_threshold` and `scam_slope`
(data/kb/decision.yml), so the threshold that trades recall against false alarms is data,
chosen on own-data cross-validation and data/dev (`python -m bot.quality.evaluation --fast
--tune`), and changing it needs no retraining.

Why this and not DIET or a ResponseSelector: it trains in seconds on the project's few
thousand hand-written examples, gives probabilities that the verdict engine can combine
with the knowledge base's red flags, and character n-grams need no word segmentation,
which keeps it robust on pasted SMS full of numbers, links and typos.
"""
from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence

from bot.kb.text import normalize

if TYPE_CHECKING:  # pragma: no cover - scikit-learn is imported only to train
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

BENIGN = "none"
# Weak regularisation suits sparse character n-grams (own-data CV: C=20 ≥ C=5).
REGULARISATION_C = 20.0
NGRAM_RANGE = (1, 3)
# The model ranks with its raw P(scam); the decision's threshold lives in data/kb/decision.yml.
SCAM_THRESHOLD = 0.5


def _logistic_regression() -> "LogisticRegression":
    from sklearn.linear_model import LogisticRegression

    # liblinear: the same optimum as lbfgs on this data, about 10× faster to fit.
    return LogisticRegression(C=REGULARISATION_C, class_weight="balanced", solver="liblinear")


def _type_model() -> "OneVsRestClassifier":
    from sklearn.multiclass import OneVsRestClassifier

    # One-vs-rest: own-data CV and dev-set scores equal to the multinomial model's,
    # and it trains in seconds rather than a minute (21 classes, ~130k features).
    return OneVsRestClassifier(_logistic_regression())


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def shift_probability(p: float, threshold: float, slope: float = 1.0) -> float:
    """P moved in log-odds so that `threshold` becomes 0.5 (identity at 0.5, slope 1), the
    log-odds then scaled by `slope`."""
    return 1.0 / (1.0 + math.exp(-slope * (_logit(p) - _logit(threshold))))


def scam_probability(ranking: Optional[Mapping[str, float]]) -> float:
    """P(the text is some scam) from a ranking: everything but `none`; 0 without a ranking."""
    if not ranking:
        return 0.0
    return 1.0 - float(ranking.get(BENIGN, 1.0))


def recalibrate(ranking: Mapping[str, float], threshold: float, slope: float = 1.0) -> Dict[str, float]:
    """A ranking made with the raw P(scam), re-expressed at `threshold` and `slope`: P(scam)
    moves, the types keep their shares of it."""
    if threshold == SCAM_THRESHOLD and slope == 1.0 or BENIGN not in ranking:
        return dict(ranking)
    p_raw = scam_probability(ranking)
    p_new = shift_probability(p_raw, threshold, slope)
    scale = p_new / p_raw if p_raw > 0 else 0.0
    out = {t: float(v) * scale for t, v in ranking.items() if t != BENIGN}
    out[BENIGN] = 1.0 - p_new
    return out


@dataclass
class ScamTextClassifier:
    vectorizer: "TfidfVectorizer"
    is_scam: "LogisticRegression"
    scam_type: "OneVsRestClassifier"
    scam_threshold: float = SCAM_THRESHOLD

    @classmethod
    def train(
        cls, texts: Sequence[str], labels: Sequence[str], scam_threshold: float = SCAM_THRESHOLD
    ) -> "ScamTextClassifier":
        scam_labels = sorted(set(labels) - {BENIGN})
        if BENIGN not in labels or len(scam_labels) < 2:
            raise ValueError(
                f"the scam-type classifier needs '{BENIGN}' examples and at least two scam types"
            )
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=NGRAM_RANGE, sublinear_tf=True, lowercase=True
        )
        features = vectorizer.fit_transform([normalize(t) for t in texts])
        is_scam = _logistic_regression().fit(features, [label != BENIGN for label in labels])
        scam_rows = [i for i, label in enumerate(labels) if label != BENIGN]
        scam_type = _type_model().fit(features[scam_rows], [labels[i] for i in scam_rows])
        return cls(vectorizer, is_scam, scam_type, scam_threshold)

    @property
    def labels(self) -> List[str]:
        return [BENIGN, *self.scam_type.classes_]

    def rank(self, text: str) -> Dict[str, float]:
        return self.rank_many([text])[0]

    def rank_many(self, texts: Sequence[str]) -> List[Dict[str, float]]:
        features = self.vectorizer.transform([normalize(t) for t in texts])
        scam_column = list(self.is_scam.classes_).index(True)
        p_scam = self.is_scam.predict_proba(features)[:, scam_column]
        p_type = self.scam_type.predict_proba(features)
        rankings = []
        for raw, row in zip(p_scam, p_type):
            p = shift_probability(float(raw), self.scam_threshold)
            ranking = {BENIGN: float(1.0 - p)}
            ranking.update({label: float(p * q) for label, q in zip(self.scam_type.classes_, row)})
            rankings.append(ranking)
        return rankings

    def save(self, path: Path) -> None:
        path.write_bytes(pickle.dumps(self))

    @classmethod
    def load(cls, path: Path) -> "ScamTextClassifier":
        # The file is written by our own training step inside the model archive.
        return pickle.loads(path.read_bytes())
