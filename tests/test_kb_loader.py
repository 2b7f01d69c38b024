"""The knowledge base loads, and a broken one fails naming the file and the field."""
import re
from pathlib import Path

import pytest
import yaml

from bot.kb import KnowledgeBaseError, load_kb

DESIGN = Path(__file__).resolve().parents[2] / "shared" / "DESIGN.md"
TAXONOMY_ROW = re.compile(r"^\| ([a-z_]+) \| (.+?) \|$")


def design_taxonomy() -> dict:
    rows = {}
    section = DESIGN.read_text(encoding="utf-8").split("## Scam taxonomy", 1)[-1].split("\n## ", 1)[0]
    for line in section.splitlines():
        match = TAXONOMY_ROW.match(line.strip())
        if match and match.group(1) != "id":
            rows[match.group(1)] = match.group(2).strip()
    return rows


def test_real_kb_has_every_taxonomy_type_with_its_design_name(real_kb):
    taxonomy = design_taxonomy() if DESIGN.exists() else {}
    if not taxonomy:
        pytest.skip("../shared/DESIGN.md not available")
    assert set(taxonomy) <= set(real_kb.scam_types)
    for type_id, name in taxonomy.items():
        assert real_kb.scam_types[type_id].name == name, type_id


def test_real_kb_scam_types_are_complete(real_kb):
    for type_id in real_kb.scam_type_ids:
        scam = real_kb.scam_types[type_id]
        assert 2 <= len(scam.questions) <= 5, type_id
        assert scam.red_flags, type_id
        assert scam.advice.do_now and scam.advice.never, type_id
        assert scam.hotlines, type_id
        assert scam.description.strip(), type_id


def test_real_kb_hotlines_and_bank_numbers(real_kb):
    numbers = {h.number for h in real_kb.hotlines.values()}
    assert {"110", "96110", "12381", "12321"} <= numbers
    assert any(h.kind == "app" and h.number is None for h in real_kb.hotlines.values())
    banks = {b.name: b.number for b in real_kb.banks}
    expected = {"95588", "95599", "95566", "95533", "95559", "95555", "95568", "95580"}
    assert expected == set(banks.values())


def test_real_kb_never_asks_for_secrets(real_kb):
    asking = re.compile(r"(告诉|提供|发给|报一下|输入)(我|我们|助手).{0,6}(身份证号|卡号|密码|验证码)")
    for scam in real_kb.scam_types.values():
        for question in scam.questions:
            assert not asking.search(question.text), question.id
            assert not re.search(r"(卡号|密码|验证码|身份证号)(是多少|是什么)", question.text), question.id


def _rewrite(path: Path, mutate) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize(
    "file, mutate, expected",
    [
        ("scam_types/police_impersonation.yml", lambda d: d["red_flags"][0].update(weight=7),
         r"police_impersonation\.yml: red_flags\.0\.weight"),
        ("scam_types/police_impersonation.yml", lambda d: d["red_flags"][1].update(patterns=["(未闭合"]),
         r"police_impersonation\.yml: red_flags\.1\.patterns: invalid regular expression"),
        ("scam_types/police_impersonation.yml", lambda d: d.update(hotlines=["no_such_line"]),
         r"police_impersonation\.yml: hotlines\.0: unknown hotline 'no_such_line'"),
        ("scam_types/police_impersonation.yml", lambda d: d["questions"][0].update(red_flags=["ghost"]),
         r"police_impersonation\.yml: questions\.0\.red_flags: unknown red flag 'ghost'"),
        ("scam_types/police_impersonation.yml", lambda d: d.update(common_red_flags=["ghost"]),
         r"police_impersonation\.yml: common_red_flags\.0"),
        ("scam_types/customer_service_impersonation.yml", lambda d: d["red_flags"][0].update(id="pi_safe_account"),
         r"red flag id 'pi_safe_account' is already used"),
        ("scam_types/police_impersonation.yml", lambda d: d.update(colour="red"),
         r"police_impersonation\.yml: colour: extra fields not permitted"),
        ("scam_types/police_impersonation.yml", lambda d: d.pop("advice"),
         r"police_impersonation\.yml: advice: field required"),
        ("common.yml", lambda d: d.update(loss_patterns=["[未闭合"]),
         r"common\.yml: loss_patterns: invalid regular expression"),
        ("scam_types/police_impersonation.yml", lambda d: d["red_flags"][0].update(exclude_patterns=["(未闭合"]),
         r"police_impersonation\.yml: red_flags\.0\.exclude_patterns: invalid regular expression"),
        ("scam_types/police_impersonation.yml", lambda d: d["red_flags"][0].update(exclude_patterns="不会"),
         r"police_impersonation\.yml: red_flags\.0\.exclude_patterns"),
        ("common.yml", lambda d: d.update(warning_patterns=["凡是(都是"]),
         r"common\.yml: warning_patterns: invalid regular expression"),
        ("common.yml", lambda d: d.update(loss_exclude_patterns=["[水电费"]),
         r"common\.yml: loss_exclude_patterns: invalid regular expression"),
        ("hotlines.yml", lambda d: d["banks"][0].update(number="955"),
         r"hotlines\.yml: banks\.0\.number"),
    ],
)
def test_broken_kb_names_file_and_field(kb_copy, file, mutate, expected):
    _rewrite(kb_copy / file, mutate)
    with pytest.raises(KnowledgeBaseError, match=expected):
        load_kb(kb_copy)


def test_file_name_must_match_id(kb_copy):
    (kb_copy / "scam_types" / "police_impersonation.yml").rename(kb_copy / "scam_types" / "police.yml")
    with pytest.raises(KnowledgeBaseError, match=r"police\.yml: id: 'police_impersonation' must match"):
        load_kb(kb_copy)


def test_missing_required_type_is_reported(kb_copy):
    (kb_copy / "scam_types" / "unknown.yml").unlink()
    with pytest.raises(KnowledgeBaseError, match="missing required type file unknown.yml"):
        load_kb(kb_copy)


def test_invalid_yaml_is_reported_with_file(kb_copy):
    (kb_copy / "common.yml").write_text("red_flags: [unclosed", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=r"common\.yml: cannot read YAML"):
        load_kb(kb_copy)


def test_adding_a_scam_type_is_data_only(kb_copy):
    (kb_copy / "scam_types" / "lottery_ticket.yml").write_text(
        "id: lottery_ticket\nname: 彩票内幕\nshort_name: 彩票内幕\ndescription: 说有内幕号码。\n"
        "base_risk: medium\ntarget_groups: [all]\n"
        "red_flags: [{id: lot_inside, description: 彩票没有内幕, patterns: ['内幕号码'], weight: 3}]\n"
        "advice: {do_now: [不要付费买号码]}\n",
        encoding="utf-8",
    )
    kb = load_kb(kb_copy)
    assert "lottery_ticket" in kb.scam_type_ids


# -- loss_checklist (operator console, issue 6) ---------------------------------------------

def test_real_kb_loss_checklist_names_police_evidence_and_second_scam(real_kb):
    checklist = real_kb.common.loss_checklist
    assert "110" in checklist.police
    assert checklist.bank_named.format(bank="中国工商银行", number="95588") == "马上打中国工商银行客服 95588，要求紧急止付、冻结账户"
    assert {"转账记录", "聊天记录", "截图"} <= set(checklist.evidence)
    assert "第二次诈骗" in checklist.recovery_warning


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d.pop("loss_checklist"), r"common\.yml: loss_checklist: field required"),
        (lambda d: d["loss_checklist"].update(bank_named="打银行电话"),
         r"common\.yml: loss_checklist\.bank_named: must contain the placeholders"),
        (lambda d: d["loss_checklist"].update(evidence=[]), r"common\.yml: loss_checklist\.evidence"),
    ],
)
def test_broken_loss_checklist_names_file_and_field(kb_copy, mutate, expected):
    _rewrite(kb_copy / "common.yml", mutate)
    with pytest.raises(KnowledgeBaseError, match=expected):
        load_kb(kb_copy)


def test_real_kb_uses_warning_and_exclude_patterns(real_kb):
    """The false-alarm fixes live in the data, where they are reviewed and tested."""
    assert real_kb.common.warning_patterns and real_kb.common.loss_exclude_patterns
    flag = real_kb.red_flags["screen_sharing"][1]
    assert flag.exclude_patterns
    assert len(real_kb.compiled_flag_excludes["screen_sharing"]) == len(flag.exclude_patterns)
    assert real_kb.compiled_flag_excludes["safe_account"] == []  # warnings cover it, shared


def test_exclude_patterns_default_to_none(kb_copy):
    kb = load_kb(kb_copy)
    assert kb.common.warning_patterns == [] and kb.common.loss_exclude_patterns == []
    assert all(flag.exclude_patterns == [] for _, flag in kb.red_flags.values())


# -- stages.yml (the loss stage's scopes and signals) -------------------------------------------

STAGES_YML = Path(__file__).resolve().parents[1] / "data" / "kb" / "stages.yml"


def test_the_project_kb_loads_its_stage_signals():
    kb = load_kb()
    assert kb.stage_rules.signals and kb.stage_rules.scopes
    assert kb.source_files["stages"].name == "stages.yml"


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d["signals"][0].update(stage="gone"), r"stages\.yml: signals\.0\.stage: unknown stage 'gone'"),
        (lambda d: d["signals"][1].update(patterns=["(未闭合"]),
         r"stages\.yml: signals\.1\.patterns: invalid regular expression"),
        (lambda d: d["scopes"][0].update(reach=0), r"stages\.yml: scopes\.0\.reach"),
        # A top-level `rules:` key would be read by Rasa as dialogue rules (data/ is its input).
        (lambda d: d.update(rules=d.pop("signals")), r"stages\.yml: rules: extra fields not permitted"),
    ],
)
def test_a_broken_stages_file_names_file_and_field(kb_copy, mutate, expected):
    target = kb_copy / "stages.yml"
    target.write_text(STAGES_YML.read_text(encoding="utf-8"), encoding="utf-8")
    _rewrite(target, mutate)
    with pytest.raises(KnowledgeBaseError, match=expected):
        load_kb(kb_copy)


def test_a_question_names_a_known_stage_or_none(kb_copy):
    _rewrite(kb_copy / "scam_types" / "police_impersonation.yml", lambda d: d["questions"][0].update(stage="gone"))
    with pytest.raises(KnowledgeBaseError, match=r"police_impersonation\.yml: questions\.0\.stage"):
        load_kb(kb_copy)


def test_the_decision_constants_are_read_from_decision_yml(kb_copy):
    assert load_kb(kb_copy).decision.stage_evidence == 20.0  # no file: the model's defaults
    (kb_copy / "decision.yml").write_text("scam_threshold: 0.7\nstage_evidence: 1.5\n", encoding="utf-8")
    decision = load_kb(kb_copy).decision
    assert (decision.scam_threshold, decision.stage_evidence, decision.flag_evidence) == (0.7, 1.5, 0.3)


@pytest.mark.parametrize("body, field", [
    ("scam_threshold: 1.5\n", "scam_threshold"),
    ("stage_weight: 1\n", "stage_weight"),
    ("risk: {high_at: 2, medium_at: 4}\n", "risk.medium_at"),
])
def test_a_bad_decision_file_names_the_file_and_the_field(kb_copy, body, field):
    (kb_copy / "decision.yml").write_text(body, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=rf"decision\.yml: .*{re.escape(field)}"):
        load_kb(kb_copy)


def test_the_real_kb_has_its_decision_file():
    assert load_kb().source_files["decision"].name == "decision.yml"
