"""Verdict engine mechanics on the mini KB (no Rasa)."""
from bot.kb import assess
from bot.kb.text import normalize

POLICE = {"police_impersonation": 0.7, "customer_service_impersonation": 0.1, "none": 0.1, "unknown": 0.1}
BENIGN = {"police_impersonation": 0.05, "customer_service_impersonation": 0.05, "none": 0.85, "unknown": 0.05}


def test_red_flags_quote_the_residents_words(mini_kb):
    v = assess(mini_kb, "他说我医保卡在外地被盗刷了，让我把钱转到安全账户", ranking=POLICE)
    assert v.scam_type == "police_impersonation"
    quotes = {h.id: h.quote for h in v.red_flags}
    assert "安全账户" in quotes["pi_safe_account"]
    assert "医保卡在外地被盗刷" in quotes["pi_medical_card"]
    assert v.risk_level == "high"


def test_question_answered_by_the_description_is_not_asked(mini_kb):
    v = assess(mini_kb, "让我把钱转到安全账户", ranking=POLICE)
    asked = [q.id for q in v.questions]
    assert "pi_q_transfer" not in asked
    assert asked == ["pi_q_video", "pi_q_station"]


def test_answers_move_the_risk_up_and_down(mini_kb):
    text = "有个自称警察的人打电话给我"
    neutral = assess(mini_kb, text, ranking=POLICE)
    raised = assess(mini_kb, text, ranking=POLICE, answers={"pi_q_transfer": True, "pi_q_video": True})
    lowered = assess(mini_kb, text, ranking=POLICE, answers={"pi_q_transfer": False, "pi_q_station": True})
    order = {"low": 0, "medium": 1, "high": 2}
    assert order[raised.risk_level] > order[neutral.risk_level] > order[lowered.risk_level]
    assert [q.id for q in raised.questions] == ["pi_q_station"]
    assert any(h.source == "answer" for h in raised.red_flags)


def test_answers_can_decide_the_type(mini_kb):
    even = {"police_impersonation": 0.4, "customer_service_impersonation": 0.4, "none": 0.1, "unknown": 0.1}
    v = assess(mini_kb, "对方打电话来", ranking=even, answers={"cs_q_screen": True})
    assert v.scam_type == "customer_service_impersonation"


def test_benign_text_is_none_and_low_never_safe_for_sure(mini_kb):
    v = assess(mini_kb, "您的快递已到驿站，取件码 3-2-1108", ranking=BENIGN)
    assert (v.scam_type, v.risk_level) == ("none", "low")
    assert v.red_flags == [] and v.questions == []
    assert v.advice and not any("绝对安全" in a for a in v.advice)


def test_decisive_red_flag_overrules_a_benign_classifier(mini_kb):
    v = assess(mini_kb, "把收到的验证码发给我", ranking=BENIGN)
    assert v.scam_type != "none"
    assert v.risk_level in ("medium", "high")


def test_money_lost_puts_110_and_the_bank_first(mini_kb):
    v = assess(mini_kb, "我已经转了两万到工商银行的安全账户", ranking=POLICE)
    assert v.money_lost and v.risk_level == "high"
    assert v.advice[0].startswith("马上打 110")
    assert v.hotlines[0].number == "110"
    assert any(h.number == "95588" and "止付" in h.when for h in v.hotlines)


def test_money_lost_is_never_none(mini_kb):
    v = assess(mini_kb, "我已经转了", ranking=BENIGN)
    assert v.scam_type == "unknown" and v.risk_level == "high"


def test_traditional_chinese_is_understood(mini_kb):
    v = assess(mini_kb, "他讓我把錢轉到安全帳戶", ranking=POLICE)
    assert "pi_safe_account" in {h.id for h in v.red_flags}
    assert normalize("帳戶") == "账户"


def test_without_classifier_red_flags_decide(mini_kb):
    assert assess(mini_kb, "要我转到安全账户").scam_type == "police_impersonation"
    assert assess(mini_kb, "周末回家吃饭").scam_type == "none"


def test_unknown_answer_ids_are_ignored_by_the_engine(mini_kb):
    v = assess(mini_kb, "自称警察", ranking=POLICE, answers={"nope": True})
    assert v.answers == {}


def test_api_shape_matches_the_contract(mini_kb):
    body = assess(mini_kb, "让我转到安全账户，电话13812345678，转5000元", ranking=POLICE).to_api()
    assert set(body) >= {"scam_type", "scam_name", "risk_level", "confidence", "alternatives",
                         "red_flags", "indicators", "advice", "hotlines", "questions"}
    assert body["scam_name"] == "冒充公检法及政府机关（含医保、社保）"
    assert all(set(a) == {"scam_type", "confidence"} for a in body["alternatives"])
    assert all({"id", "description"} <= set(f) for f in body["red_flags"])
    assert all(set(h) == {"name", "number", "when"} for h in body["hotlines"])
    assert all(set(q) == {"id", "text"} for q in body["questions"])
    kinds = {(i["kind"], i["value"]) for i in body["indicators"]}
    assert ("phone", "13812345678") in kinds
    assert any(kind == "amount" and "5000" in value for kind, value in kinds)
    assert 0.0 <= body["confidence"] <= 1.0


# -- decision constants (chosen by `python -m bot.evaluation --fast --tune`) ----------------

from bot.kb.verdict import DECISION, DecisionConstants, decide_type, find_red_flags  # noqa: E402


def test_decide_type_weighs_red_flags_by_the_given_constants(mini_kb):
    hits = find_red_flags(mini_kb, "说我医保卡在外地被盗刷了")
    assert hits and all(h.weight < 3 for h in hits)  # no decisive flag: the constants decide
    benign = {"police_impersonation": 0.1, "customer_service_impersonation": 0.05, "none": 0.8, "unknown": 0.05}
    ignore_flags = DecisionConstants(flag_evidence=0.0, none_penalty=0.0, min_type_confidence=0.15)
    trust_flags = DecisionConstants(flag_evidence=1.0, none_penalty=1.0, min_type_confidence=0.15)
    assert decide_type(mini_kb, benign, hits, {}, False, ignore_flags)[0] == "none"
    assert decide_type(mini_kb, benign, hits, {}, False, trust_flags)[0] == "police_impersonation"


def test_assess_uses_the_default_decision_constants(mini_kb):
    text = "说我医保卡在外地被盗刷了"
    hits = find_red_flags(mini_kb, text)
    expected = decide_type(mini_kb, POLICE, hits, {}, False, DECISION)
    v = assess(mini_kb, text, ranking=POLICE)
    assert (v.scam_type, v.confidence) == expected[:2]


def test_a_home_visit_showing_a_work_card_is_not_a_police_red_flag(real_kb):
    text = "【燃气公司】本周五上门安检，安检人员会出示工作证，不收取任何费用"
    assert "pi_video_statement" not in {h.id for h in find_red_flags(real_kb, text)}
    assert "pi_video_statement" in {h.id for h in find_red_flags(real_kb, "他穿着警服跟我视频")}
