"""The held-out dev set (data/dev): loads, valid labels, and shares no text with training."""
from collections import Counter
from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.quality.dev_set import DevExample, DevSetError, load_dev2_set, load_dev_set
from bot.kb.text import normalize
from bot.nlu.scam_classifier import situation_examples

# The external evaluation's five classes; the dev set must cover each of them well.
EVAL_CLASSES = ("none", "police_impersonation", "fake_loan",
                "customer_service_impersonation", "acquaintance_impersonation")
NEAR_DUPLICATE = 0.9  # cosine of character 2–4-gram TF-IDF


@pytest.fixture(scope="module")
def dev(real_kb):
    return load_dev_set(valid_labels=real_kb.scam_types)


@pytest.fixture(scope="module")
def training_texts():
    return situation_examples(load_data("data/nlu"))[0]


def _key(text: str) -> str:
    return "".join(normalize(text).split())


def test_dev_set_is_large_and_covers_the_eval_classes(dev):
    assert len(dev) >= 400
    counts = Counter("fake_loan" if e.label == "fake_credit_repair" else e.label for e in dev)
    assert counts["none"] >= 150
    assert all(counts[c] >= 40 for c in EVAL_CLASSES), counts
    assert len({e.style for e in dev}) >= 5


def test_dev_texts_never_appear_in_training(dev, training_texts):
    trained = {_key(t) for t in training_texts}
    leaked = [e.text for e in dev if _key(e.text) in trained]
    assert not leaked, leaked[:5]


def test_dev_texts_are_not_near_copies_of_training(dev, training_texts):
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(2, 4))
    train = vectorizer.fit_transform([normalize(t) for t in training_texts])
    held = vectorizer.transform([normalize(e.text) for e in dev])
    best = (held @ train.T).max(axis=1).toarray().ravel()
    close = [(dev[i].text, round(float(s), 2)) for i, s in enumerate(best) if s >= NEAR_DUPLICATE]
    assert not close, close[:5]


def _write(directory: Path, body: str) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "bad.yml").write_text(body, encoding="utf-8")
    return directory


@pytest.mark.parametrize("body, field", [
    ("style: x\nexamples:\n  not_a_type: [文本]\n", "examples.not_a_type"),
    ("style: x\nexamples:\n  none: ['  ']\n", "examples.none[0]"),
    ("examples:\n  none: [文本]\n", "style"),
    ("style: x\nexamples: []\n", "examples"),
    ("style: x\nexamples:\n  none: [a, a]\n", "examples.none"),
])
def test_bad_files_are_named_with_the_field(tmp_path, real_kb, body, field):
    directory = _write(tmp_path / "dev", body)
    with pytest.raises(DevSetError) as err:
        load_dev_set(directory, valid_labels=real_kb.scam_types)
    assert str(err.value).startswith(f"bad.yml: {field}")


def test_an_empty_directory_is_an_error(tmp_path):
    with pytest.raises(DevSetError, match="no dev-set files"):
        load_dev_set(tmp_path)


# -- data/dev2 (issue 11): type and loss stage per text ------------------------------------------


def test_dev2_loads_with_a_stage_for_every_text(real_kb):
    dev2 = load_dev2_set(valid_labels=real_kb.scam_types)
    assert len(dev2) >= 600
    assert {e.stage for e in dev2} == {"paid", "credentials_given", "on_the_call", "asked_to_pay", "not_engaged"}
    assert any(e.near_miss for e in dev2) and len({e.style for e in dev2}) >= 5


@pytest.mark.parametrize("body, field", [
    ("style: x\nexamples:\n  - {text: 文本, type: nope, stage: paid}\n", "examples[0].type"),
    ("style: x\nexamples:\n  - {text: 文本, type: none, stage: spent}\n", "examples[0].stage"),
    ("style: x\nexamples:\n  - {text: 文本, type: none, stage: paid, near_miss: maybe}\n", "examples[0].near_miss"),
    ("style: x\nexamples:\n  - {text: 文本, type: none, stage: paid, label: x}\n", "examples[0]"),
    ("style: x\nexamples:\n  - {text: 文本, type: none, stage: paid}\n  - {text: 文本, type: none, stage: paid}\n",
     "examples.none"),
])
def test_bad_dev2_files_are_named_with_the_field(tmp_path, real_kb, body, field):
    directory = _write(tmp_path / "dev2", body)
    with pytest.raises(DevSetError) as err:
        load_dev2_set(directory, valid_labels=real_kb.scam_types)
    assert str(err.value).startswith(f"bad.yml: {field}")


def test_the_dev_report_scores_stages_styles_and_where_bank_cs_texts_land():
    from types import SimpleNamespace

    from bot.quality.evaluation import dev_report, dev_table

    examples = [
        DevExample("银行客服说我账户异常，要我报验证码", "customer_service_impersonation", "a", "f", "credentials_given"),
        DevExample("支付宝客服让我把钱转到风控账户，我转了", "customer_service_impersonation", "a", "f", "paid"),
        DevExample("淘宝客服说快递丢了要理赔", "customer_service_impersonation", "b", "f", "not_engaged"),
        DevExample("差点就转了，幸好没转", "none", "b", "f", "not_engaged", near_miss=True),
    ]
    verdicts = [SimpleNamespace(scam_type=t, money_lost=lost) for t, lost in (
        ("police_impersonation", False), ("customer_service_impersonation", True),
        ("customer_service_impersonation", False), ("none", False))]
    report = dev_report(examples, verdicts)
    assert report["bank_cs_confusion"] == {
        "rows": 2, "accuracy": 0.5, "predicted": {"police_impersonation": 1, "customer_service_impersonation": 1}}
    assert report["false_alarm_rate"] == 0.0 and set(report["by_style"]) == {"a", "b"}
    stage = report["stage"]
    assert set(stage["per_stage"]) >= {"paid", "credentials_given", "on_the_call", "asked_to_pay", "not_engaged"}
    assert stage["verdict_money_lost"]["recall"] == 1.0 and stage["near_miss_rows"] == 1
    table = dev_table({"dev2_set": report})
    assert "paidR" in table and "bank-CS texts land in" in table
