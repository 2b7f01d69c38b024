"""The loss-stage model: KB scopes and rules, features, the JSON model, combining turns."""
import importlib.util
from pathlib import Path

import pytest

from bot.kb.stage import (
    STAGES,
    StageError,
    StageModel,
    assess_stage,
    load_stage_rules,
    most_severe,
    rule_stage,
    stage_features,
)
from bot.kb.stage_train import fit, load_stage_examples, stage_scores

ROOT = Path(__file__).resolve().parents[1]
RULES = load_stage_rules(ROOT / "data" / "kb" / "stages.yml")

# A tiny hand-written set: enough for the model to learn negation and tense apart.
TINY = [
    ("我已经转了两万给他", "paid"), ("钱转过去了，现在联系不上", "paid"), ("我妈给他打了五千块", "paid"),
    ("交了三千保证金，还是取不出来", "paid"), ("我爸转了八千过去", "paid"), ("已经付了六千八", "paid"),
    ("验证码告诉他了", "credentials_given"), ("我把密码输了进去", "credentials_given"),
    ("开了屏幕共享给他看", "credentials_given"), ("装了他说的会议软件，卡号也报了", "credentials_given"),
    ("把那串验证码念给他了", "credentials_given"), ("按他说的装了向日葵", "credentials_given"),
    ("他还在电话里等我", "on_the_call"), ("对方不让我挂电话", "on_the_call"), ("客服正在微信上等我回复", "on_the_call"),
    ("他现在还在线上催我", "on_the_call"), ("电话还没挂，他在等我去银行", "on_the_call"), ("视频还开着", "on_the_call"),
    ("他让我转五千", "asked_to_pay"), ("差点就转了", "asked_to_pay"), ("我没有转", "asked_to_pay"),
    ("准备去银行转账", "asked_to_pay"), ("要我先交保证金，我还没交", "asked_to_pay"), ("我沒有轉", "asked_to_pay"),
    ("收到一条短信说中奖了", "not_engaged"), ("有人打电话说是公安局的", "not_engaged"), ("这个链接能点吗", "not_engaged"),
    ("新闻里说有个老人被骗了二十万", "not_engaged"), ("上个月交了物业费", "not_engaged"), ("给我妈转了生活费", "not_engaged"),
]


BUILT_MODEL = ROOT / "build" / "stage_model.json"


def _model_kinds():
    # The file `make build` trains (in Rasa's environment) is what both runtimes load; the tiny
    # model is trained here, where scikit-learn is (Rasa's environment only).
    yield "built"
    if importlib.util.find_spec("sklearn") is not None:
        yield "tiny"


@pytest.fixture(scope="module", params=list(_model_kinds()))
def stage_model(request) -> StageModel:
    if request.param == "built":
        assert BUILT_MODEL.exists(), "build/stage_model.json missing: run `make build`"
        return StageModel.load(BUILT_MODEL)
    texts, labels = zip(*TINY)
    return fit(list(texts) * 3, list(labels) * 3, RULES, c=10.0)


def test_negation_puts_the_following_characters_in_scope():
    features = stage_features("我没有转", RULES)
    assert "neg:转" in features
    assert "neg:转" not in stage_features("我转了", RULES)


def test_a_negation_carries_over_a_comma_into_the_next_clause_but_not_past_a_full_stop():
    assert "neg:转" in stage_features("没有，一分钱都没转", RULES)
    assert "neg:转" in stage_features("我没有啊，转什么", RULES)
    assert "neg:转" not in stage_features("我没有啊。转了三千", RULES)


def test_cantonese_perfective_and_a_bill_sent_to_a_private_account_are_paid_signals():
    assert "R:paid" in stage_features("我畀咗三千俾佢", RULES)
    assert "R:paid" in stage_features("佢叫我转账，我转咗五千", RULES)
    assert "R:paid" in stage_features("物业费我转到他私人微信了", RULES)
    assert "neg:转" in stage_features("我冇转钱", RULES)


def test_the_nlu_datas_ordinary_texts_can_join_the_stage_data_as_not_engaged():
    from bot.kb.stage_train import NLU_DIR, benign_examples, training_examples

    benign = benign_examples()
    assert len(benign) > 1000 and {e.stage for e in benign} == {"not_engaged"}
    assert len(training_examples(nlu_dir=NLU_DIR)) > len(training_examples()) == len(load_stage_examples())


def test_traditional_input_gets_the_same_features_as_simplified():
    assert stage_features("我沒有轉", RULES) == stage_features("我没有转", RULES)


def test_a_rule_match_is_a_feature_and_carries_its_scope():
    assert "R:paid" in stage_features("我已经转了两万", RULES)
    assert "R:asked_to_pay" in stage_features("他让我转五千", RULES)


def test_rules_alone_tell_a_transfer_from_a_demand():
    assert rule_stage("我已经转了两万", RULES) == "paid"
    assert rule_stage("他让我转五千", RULES) == "asked_to_pay"
    assert rule_stage("收到一条短信", RULES) == "not_engaged"


def test_the_model_learns_tense_and_negation(stage_model):
    assert assess_stage("我已经转了两万给他", RULES, stage_model).stage == "paid"
    assert assess_stage("我没有转", RULES, stage_model).stage == "asked_to_pay"
    assert assess_stage("验证码告诉他了", RULES, stage_model).stage == "credentials_given"


def test_the_model_survives_a_json_round_trip(stage_model, tmp_path):
    path = tmp_path / "stage.json"
    stage_model.save(path)
    loaded = StageModel.load(path)
    text = "钱转过去了，现在联系不上"
    assert assess_stage(text, RULES, loaded) == assess_stage(text, RULES, stage_model)


def test_the_probabilities_sum_to_one_and_cover_every_stage(stage_model):
    result = assess_stage("他让我转五千", RULES, stage_model)
    assert set(result.probabilities) == set(STAGES)
    assert abs(sum(result.probabilities.values()) - 1.0) < 1e-9


def test_an_empty_text_is_not_engaged(stage_model):
    assert assess_stage("   ", RULES, stage_model).stage == "not_engaged"


def test_money_lost_is_true_exactly_for_paid(stage_model):
    for text, _ in TINY:
        result = assess_stage(text, RULES, stage_model)
        assert result.money_lost == (result.stage == "paid")


def test_a_conversation_keeps_its_most_severe_stage():
    assert most_severe(["asked_to_pay", "paid", "not_engaged"]) == "paid"
    assert most_severe(["on_the_call", "credentials_given"]) == "credentials_given"
    assert most_severe([None, "bogus"]) == "not_engaged"


def test_a_broken_model_file_is_refused_with_its_path(tmp_path):
    path = tmp_path / "stage.json"
    path.write_text('{"classes": ["paid"]}', encoding="utf-8")
    with pytest.raises(StageError, match="stage.json"):
        StageModel.load(path)


def test_a_bad_rules_file_names_the_field(tmp_path):
    path = tmp_path / "stages.yml"
    path.write_text("signals:\n  - id: x\n    stage: robbed\n    patterns: ['a']\n", encoding="utf-8")
    with pytest.raises(StageError, match=r"stages.yml: signals.0.stage"):
        load_stage_rules(path)


@pytest.mark.parametrize("body, field", [
    ("examples:\n  - text: 转了\n    stage: robbed\n", "examples.0.stage"),
    ("examples:\n  - text: ''\n    stage: paid\n", "examples.0.text"),
    ("examples:\n  - text: 转了\n    stage: paid\n    near: true\n", "examples.0"),
    ("examples:\n  - text: 转了\n    stage: paid\n    near_miss: maybe\n", "examples.0.near_miss"),
])
def test_bad_stage_examples_are_named_with_the_field(tmp_path, body, field):
    (tmp_path / "bad.yml").write_text(body, encoding="utf-8")
    with pytest.raises(StageError, match=f"bad.yml: {field}"):
        load_stage_examples(tmp_path)


def test_scores_report_precision_and_recall_per_stage():
    scores = stage_scores(["paid", "paid", "not_engaged"], ["paid", "not_engaged", "not_engaged"])
    assert scores["paid"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert scores["overall"]["accuracy"] == 0.6667


# -- loading at start-up (bot.runtime.context) ----------------------------------------------------


def test_without_a_model_file_the_process_runs_on_rules_and_says_so(tmp_path, caplog):
    from bot.runtime.context import load_stage_model
    from bot.settings import Settings

    with caplog.at_level("WARNING"):
        assert load_stage_model(Settings.from_env({"STAGE_MODEL_FILE": str(tmp_path / "none.json")})) is None
    assert "rules only" in caplog.text


def test_a_broken_model_file_is_logged_and_the_rules_take_over(tmp_path, caplog):
    from bot.runtime.context import load_stage_model
    from bot.settings import Settings

    broken = tmp_path / "stage_model.json"
    broken.write_text("{", encoding="utf-8")
    with caplog.at_level("ERROR"):
        assert load_stage_model(Settings.from_env({"STAGE_MODEL_FILE": str(broken)})) is None
    assert str(broken) in caplog.text and "rules only" in caplog.text


def test_loss_steps_follow_the_stage(real_kb):
    from bot.kb.loss import steps_for_stage

    bank = [b for b in real_kb.banks if b.number == "95588"]
    paid = steps_for_stage(real_kb, "paid", bank)
    assert paid.urgent and [s.step for s in paid.steps][:2] == ["police", "bank"]
    assert paid.bank_lines == ("马上打中国工商银行客服 95588，要求紧急止付、冻结账户",)
    codes = steps_for_stage(real_kb, "credentials_given", [])
    assert codes.urgent and "credentials" in [s.step for s in codes.steps]
    assert codes.title != paid.title
    call = steps_for_stage(real_kb, "on_the_call", [])
    assert call and not call.urgent and [s.step for s in call.steps] == ["hang_up"]
    assert not steps_for_stage(real_kb, "asked_to_pay", bank) and not steps_for_stage(real_kb, "not_engaged", [])


def test_a_clause_saying_only_it_was_done_and_a_sum_taken_are_paid_signals():
    # "说要先交五百押金 我交了": the request and the deed in separate clauses.
    assert "R:paid" in stage_features("中介说要先交五百押金 我交了", RULES)
    assert "R:paid" in stage_features("[10:20] 我：已转", RULES)
    assert "R:paid" in stage_features("我妈被冒充公安的骗了12万", RULES)
    assert "R:paid" in stage_features("点了链接，卡里少了三千", RULES)
    assert "R:paid" not in stage_features("中介说要先交五百押金", RULES)
    assert "R:paid:neg" in stage_features("我没交了", RULES) or "R:paid" not in stage_features("我没交了", RULES)


def test_a_text_is_judged_once_per_rules_and_model(stage_model, monkeypatch):
    calls = []
    real = StageModel.probabilities

    def counting(self, features):
        calls.append(1)
        return real(self, features)

    monkeypatch.setattr(StageModel, "probabilities", counting)
    text = "上周三我妈按那人说的转了四千二过去"
    first = assess_stage(text, RULES, stage_model)
    assert assess_stage(text, RULES, stage_model) == first and len(calls) == 1
    reloaded = load_stage_rules(ROOT / "data" / "kb" / "stages.yml")  # a KB reload: new rules
    assert assess_stage(text, reloaded, stage_model) == first and len(calls) == 2
