"""Scam-type text classifier: character n-gram TF-IDF + multinomial logistic regression.

Why this and not DIET or a ResponseSelector: it trains in seconds on the project's ~2,000
hand-written examples, gives calibrated probabilities that the verdict engine can combine
with the knowledge base's red flags, and character n-grams need no word segmentation,
which keeps it robust on pasted SMS full of numbers, links and typos.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Dict, List, Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from bot.kb.text import normalize

# Chosen by cross-validation on the project's own training data (make eval).
REGULARISATION_C = 20.0
NGRAM_RANGE = (1, 3)


class ScamTextClassifier:
    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str]) -> "ScamTextClassifier":
        if len(set(labels)) < 2:
            raise ValueError("the scam-type classifier needs examples of at least two types")
        pipeline = Pipeline(
            [
                (
                    "tfidf",
                    TfidfVectorizer(
                        analyzer="char_wb", ngram_range=NGRAM_RANGE, sublinear_tf=True, lowercase=True
                    ),
                ),
                (
                    "model",
                    LogisticRegression(
                        C=REGULARISATION_C, max_iter=3000, class_weight="balanced"
                    ),
                ),
            ]
        )
        pipeline.fit([normalize(t) for t in texts], list(labels))
        return cls(pipeline)

    @property
    def labels(self) -> List[str]:
        return list(self._pipeline.classes_)

    def rank(self, text: str) -> Dict[str, float]:
        return self.rank_many([text])[0]

    def rank_many(self, texts: Sequence[str]) -> List[Dict[str, float]]:
        probabilities = self._pipeline.predict_proba([normalize(t) for t in texts])
        return [
            {label: float(p) for label, p in zip(self.labels, row)} for row in probabilities
        ]

    def save(self, path: Path) -> None:
        path.write_bytes(pickle.dumps(self._pipeline))

    @classmethod
    def load(cls, path: Path) -> "ScamTextClassifier":
        # The file is written by our own training step inside the model archive.
        return cls(pickle.loads(path.read_bytes()))
