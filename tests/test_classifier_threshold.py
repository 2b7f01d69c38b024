"""Scam-type classifier: the scam threshold and the tuning helpers (small data, fast)."""
import math

import pytest

from bot.kb.classifier import ScamTextClassifier, recalibrate, shift_probability
from bot.quality.tuning import MIN_FRAUD_RECALL, _key

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


def test_recalibrate_matches_a_model_trained_with_that_threshold():
    texts = ["有人打电话说我涉嫌洗钱", "周末一起吃饭"]
    raw = ScamTextClassifier.train(TEXTS, LABELS, scam_threshold=0.5).rank_many(texts)
    direct = ScamTextClassifier.train(TEXTS, LABELS, scam_threshold=0.3).rank_many(texts)
    for r, d in zip(raw, direct):
        moved = recalibrate(r, 0.3)
        assert all(math.isclose(moved[t], d[t], rel_tol=1e-6, abs_tol=1e-9) for t in d)


def test_a_slope_below_one_tempers_the_scam_probability_around_the_threshold():
    ranking = {"none": 0.05, "police_impersonation": 0.95}
    tempered = recalibrate(ranking, 0.5, 0.5)
    assert 0.5 < 1 - tempered["none"] < 0.95
    assert sum(tempered.values()) == pytest.approx(1.0)


def _row(threshold, recall, alarms, f1):
    summary = {"fraud_recall": recall, "false_alarm_rate": alarms, "macro_f1": f1, "fraud_type_accuracy": 0.9}
    return {"setting": {"scam_threshold": threshold}, "own_cv": summary, "dev": summary}


def test_the_tuning_takes_the_fewest_false_alarms_among_settings_that_keep_fraud_recall():
    current = {"scam_threshold": 0.5}
    rows = [_row(0.5, 0.99, 0.04, 0.90), _row(0.7, 0.975, 0.01, 0.88),
            _row(0.9, MIN_FRAUD_RECALL - 0.01, 0.0, 0.95)]
    assert max(rows, key=lambda r: _key(r, current))["setting"]["scam_threshold"] == 0.7
    # False alarms within one step: the better macro-F1 wins.
    rows = [_row(0.5, 0.99, 0.0101, 0.93), _row(0.7, 0.99, 0.0102, 0.88)]
    assert max(rows, key=lambda r: _key(r, current))["setting"]["scam_threshold"] == 0.5
