"""Scam-type classifier: the scam threshold and the tuning helpers (small data, fast)."""
import math

import pytest

from bot.kb.classifier import ScamTextClassifier, shift_probability
from bot.quality.tuning import FALSE_ALARM_BUDGET, Setting, choose, rethreshold

TEXTS = [
    "快递已到驿站，取件码3-1-2201", "明天上午十点开会", "晚上回家吃饭", "您的话费余额为20元",
    "我是公安局的，你涉嫌洗钱，把钱转到安全账户", "你的银行卡涉案，配合调查，不要告诉家人",
    "我是淘宝客服，给您办理退款理赔，请开通备用金", "您的快递丢了，我们三倍赔偿，加理赔专员微信",
]
LABELS = ["none"] * 4 + ["police_impersonation"] * 2 + ["customer_service_impersonation"] * 2


def test_shift_probability_maps_the_threshold_to_even_odds():
    assert shift_probability(0.3, 0.3) == pytest.approx(0.5)
    assert shift_probability(0.8, 0.5) == pytest.approx(0.8)
    assert shift_probability(0.3, 0.2) > 0.5 > shift_probability(0.3, 0.4)


def test_a_lower_threshold_raises_every_scam_probability():
    texts = ["有人打电话说我涉嫌洗钱", "周末一起吃饭"]
    strict = ScamTextClassifier.train(TEXTS, LABELS, scam_threshold=0.5).rank_many(texts)
    lenient = ScamTextClassifier.train(TEXTS, LABELS, scam_threshold=0.2).rank_many(texts)
    for s, l in zip(strict, lenient):
        assert l["none"] < s["none"]
        assert sum(l.values()) == pytest.approx(1.0)
        assert l["police_impersonation"] > s["police_impersonation"]


def test_rethreshold_matches_a_model_trained_with_that_threshold():
    texts = ["有人打电话说我涉嫌洗钱", "周末一起吃饭"]
    raw = ScamTextClassifier.train(TEXTS, LABELS, scam_threshold=0.5).rank_many(texts)
    direct = ScamTextClassifier.train(TEXTS, LABELS, scam_threshold=0.3).rank_many(texts)
    for r, d in zip(raw, direct):
        moved = rethreshold(r, 0.3)
        assert all(math.isclose(moved[t], d[t], rel_tol=1e-6, abs_tol=1e-9) for t in d)


def _row(threshold, recall, alarms, f1):
    summary = {"fraud_recall": recall, "false_alarm_rate": alarms, "macro_f1": f1, "fraud_type_accuracy": 0.9}
    return {"setting": {"scam_threshold": threshold, "flag_evidence": 0.5, "none_penalty": 0.8,
                        "min_type_confidence": 0.15},
            "own_cv": summary, "dev": summary}


def test_choose_takes_the_best_recall_within_the_false_alarm_budget():
    current = Setting(0.5, 0.5, 0.8, 0.15)
    rows = [_row(0.5, 0.95, 0.02, 0.90), _row(0.3, 0.99, 0.04, 0.88),
            _row(0.1, 1.0, FALSE_ALARM_BUDGET + 0.01, 0.95)]
    assert choose(rows, current)["setting"]["scam_threshold"] == 0.3
    # Recall within one step: the better macro-F1 wins.
    rows = [_row(0.5, 0.991, 0.02, 0.93), _row(0.3, 0.992, 0.04, 0.88)]
    assert choose(rows, current)["setting"]["scam_threshold"] == 0.5


def test_choose_refuses_when_nothing_fits_the_budget():
    with pytest.raises(ValueError, match="false alarms"):
        choose([_row(0.5, 0.99, 0.2, 0.9)], Setting(0.5, 0.5, 0.8, 0.15))
