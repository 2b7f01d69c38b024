"""The KB data that used to be code (issue 14): lexicons, the FAQ lists, official numbers,
the one loss checklist — validated on load with errors naming file and field, and used
the same way by every front end."""
from __future__ import annotations

import re

import pytest

from bot.gateway.console.view import checklist_view
from bot.gateway.widget import RISK_LABELS_JS
from bot.kb import RISK_LABELS, KnowledgeBaseError, assess, load_kb, loss_steps
from bot.kb.extraction.regex_extractor import RegexExtractor
from bot.quality.spans import evaluate
from bot.runtime.context import get_extractor
from tests.conftest import edit_yaml

LOST_AT_ICBC = "我已经转了两万，转到工商银行的账户"


# -- validation names the file and the field ------------------------------------------------


@pytest.mark.parametrize(
    "file, change, expected",
    [
        ("lexicons.yml", lambda d: d["brands"][0].update(bank="nobank"), r"lexicons\.yml: brands\.0\.bank: unknown bank 'nobank'"),
        ("lexicons.yml", lambda d: d["brands"][0].update(name="工行"), r"lexicons\.yml: brands\.0\.name: give either"),
        ("lexicons.yml", lambda d: d.update(police_words=[]), r"lexicons\.yml: police_words"),
        ("lexicons.yml", lambda d: d.pop("url_shorteners"), r"lexicons\.yml: url_shorteners: field required"),
        ("faq.yml", lambda d: d["verify_who"][0].update(key="Not An Id"), r"faq\.yml: verify_who\.0\.key"),
        ("hotlines.yml", lambda d: d["other_numbers"].append({"number": "12x", "name": "?"}),
         r"hotlines\.yml: other_numbers\.\d+\.number"),
        ("common.yml", lambda d: d["loss_checklist"]["for_residents"][0].update(step="bank"),
         r"common\.yml: loss_checklist\.for_residents: must hold exactly one step 'police'"),
        ("common.yml", lambda d: d["loss_checklist"]["for_residents"][0].update(step="pray"),
         r"common\.yml: loss_checklist\.for_residents\.0\.step"),
        ("common.yml", lambda d: d.update(reassurance_patterns=["验证码(\\d+"]),
         r"common\.yml: reassurance_patterns: invalid regular expression"),
        ("common.yml", lambda d: d["red_flags"][0].update(always_high="sometimes"),
         r"common\.yml: red_flags\.0\.always_high"),
    ],
)
def test_broken_kb_data_names_file_and_field(kb_copy, file, change, expected):
    path = kb_copy / file  # a copy (copytree copies what the mini KB's links point to)
    if file == "hotlines.yml" and "other_numbers" not in path.read_text(encoding="utf-8"):
        edit_yaml(path, lambda d: d.setdefault("other_numbers", []))
    edit_yaml(path, change)
    with pytest.raises(KnowledgeBaseError, match=expected):
        load_kb(kb_copy)


def test_brands_name_banks_by_the_ids_of_hotlines_yml(real_kb):
    bank_ids = {b.id for b in real_kb.banks}
    bank_brands = [b for b in real_kb.lexicons.brands if b.bank]
    assert bank_brands and {b.bank for b in bank_brands} <= bank_ids
    assert next(b for b in real_kb.lexicons.brands if b.key == "abchina").bank == "abc"


def test_official_numbers_come_from_the_kb(real_kb):
    numbers = real_kb.official_numbers()
    assert numbers["96110"] == real_kb.hotlines["antifraud_96110"].name
    assert numbers["95588"] == "中国工商银行客服" and numbers["120"] == "急救电话"
    assert "120" not in real_kb.official_numbers(with_other_numbers=False)


# -- one loss checklist, rendered by every front end ---------------------------------------------


def test_loss_steps_list_police_the_named_bank_evidence_and_the_recovery_fee_warning(real_kb):
    steps = loss_steps(real_kb, assess(real_kb, LOST_AT_ICBC))
    kinds = [s.step for s in steps.steps]
    assert kinds[:2] == ["police", "bank"] and {"evidence", "recovery_warning"} <= set(kinds)
    assert [b.number for b in steps.banks] == ["95588"]
    assert steps.bank_lines == ("马上打中国工商银行客服 95588，要求紧急止付、冻结账户",)
    assert "110" in steps.police and "第二次诈骗" in steps.recovery_warning


def test_no_loss_no_steps_and_the_advice_keeps_its_order(real_kb):
    verdict = assess(real_kb, "有人打电话说我的快递丢了要赔偿我")
    steps = loss_steps(real_kb, verdict)
    assert not steps and steps.lead(verdict.advice) == verdict.advice


def test_the_verdict_advice_and_the_console_render_the_same_steps(real_kb):
    verdict = assess(real_kb, LOST_AT_ICBC)
    steps = loss_steps(real_kb, verdict)
    assert verdict.advice[: len(steps.lines)] == steps.lines
    assert steps.lead(verdict.advice)[:2] == steps.urgent_lines
    view = checklist_view(steps)
    assert view["steps"] == [steps.police, *steps.bank_lines] and view["banks"] == [{"name": "中国工商银行", "number": "95588"}]


def test_the_verdict_carries_banks_implied_questions_and_list_status(real_kb):
    verdict = assess(real_kb, "自称工商银行客服，让我把钱转到安全账户，号码95588")
    assert [b.id for b in verdict.banks] == ["icbc"]
    assert "pi_q_transfer" in verdict.implied  # "安全账户" answers "did they ask you to transfer …"
    phone = next(i for i in verdict.indicators if i.kind == "phone")
    assert phone.listed == "allow" and "工商银行" in phone.list_note


# -- the risk levels' names are written once -------------------------------------------------------


def test_the_widget_gets_the_risk_names_from_the_server():
    assert re.search(r"window\.FZZC_RISK_LABELS = \{.*\};", RISK_LABELS_JS)
    for name in RISK_LABELS.values():
        assert name in RISK_LABELS_JS


# -- the regex extractor (no spaCy) ------------------------------------------------------------------


def test_regex_extractor_scores_close_to_the_spacy_pipeline(real_kb):
    spacy_report = evaluate(extract=get_extractor(), with_errors=False)
    regex_report = evaluate(extract=RegexExtractor(real_kb), with_errors=False)
    assert regex_report["micro"]["f1"] >= 0.9, regex_report["micro"]
    assert regex_report["micro"]["f1"] >= spacy_report["micro"]["f1"] - 0.02


# -- coverage (issue 11): bank / payment-platform customer service, relatives in trouble --------


def test_customer_service_covers_banks_payment_platforms_and_carriers(real_kb):
    cs = real_kb.scam_types["customer_service_impersonation"]
    # The name is DESIGN.md's taxonomy name (a contract); the description says what it covers.
    assert cs.short_name == "冒充客服"
    for word in ("银行", "支付宝", "风控账户", "验证身份", "移动"):
        assert word in cs.description, word
    assert {"冒充银行客服", "冒充支付宝客服", "银行风控诈骗", "冒充运营商客服"} <= set(cs.aliases)
    own = {f.id for f in cs.red_flags}
    assert {"cs_bank_account_alert", "cs_verify_identity", "cs_risk_account"} <= own
    asked = {rf for q in cs.questions for rf in q.red_flags}
    assert {"cs_bank_account_alert", "cs_verify_identity", "cs_risk_account"} <= asked


def test_relative_in_trouble_has_its_own_red_flags_and_advice(real_kb):
    acq = real_kb.scam_types["acquaintance_impersonation"]
    assert {"acq_relative_trouble", "acq_no_hangup_no_police"} <= {f.id for f in acq.red_flags}
    assert any({"acq_relative_trouble", "acq_no_hangup_no_police"} <= set(q.red_flags) for q in acq.questions)
    advice = "\n".join(acq.advice.do_now)
    assert "挂断" in advice and "打给家人本人" in advice and "110" in advice
    assert "绑架" in acq.description and "车祸" in acq.description


def test_codes_card_passwords_and_screen_sharing_are_the_always_high_flags(real_kb):
    assert real_kb.always_high_flags == {"ask_verification_code", "ask_card_password", "screen_sharing"}
