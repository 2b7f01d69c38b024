"""反诈小测验: question banks (data/outreach/quiz), validation, the session, scoring."""
from __future__ import annotations

import re
import shutil
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.outreach.quiz import (
    AUDIENCES,
    DEFAULT_QUIZ_DIR,
    GENERAL_TIP,
    QuizDataError,
    QuizSession,
    QuizStateError,
    audience_named_in,
    level_for,
    load_quiz_bank,
    parse_choice,
    question_view,
    result_card,
)
from tests.conftest import edit_yaml

# The assistant never asks anyone for these (same idea as tests/test_actions.py).
ASKS_FOR_DATA = re.compile(
    r"(请|麻烦)[^。\n]{0,3}(提供|告诉|发给|发|输入|报)[^。\n]{0,6}(身份证号|银行卡号|卡号|密码|验证码)|"
    r"把[^。\n]{0,6}(身份证号|银行卡号|卡号|密码|验证码)[^。\n]{0,4}(发给我|告诉我|报给我)"
)


@pytest.fixture(scope="module")
def bank(real_kb):
    return load_quiz_bank(real_kb)


@pytest.fixture
def quiz_dir(tmp_path: Path) -> Path:
    target = tmp_path / "quiz"
    shutil.copytree(DEFAULT_QUIZ_DIR, target)
    return target


# -- the banks -----------------------------------------------------------------------------

def test_banks_cover_every_audience_with_enough_questions(bank):
    assert len(bank) >= 60
    assert set(bank.by_audience) == set(AUDIENCES)
    for audience, questions in bank.by_audience.items():
        assert len(questions) >= 12, audience
    assert {a["id"] for a in bank.audiences()} == set(AUDIENCES)


def test_right_answers_are_spread_over_the_letters(bank):
    counts = Counter(q.answer for q in bank.by_id.values())
    assert max(counts.values()) <= 0.4 * len(bank), counts


def test_every_question_links_the_kb_and_asks_for_no_personal_data(bank, real_kb):
    for q in bank.by_id.values():
        assert q.type in real_kb.scam_type_ids
        if q.red_flag:
            assert q.red_flag in {f.id for f in real_kb.flags_of(q.type)}
        for text in [q.scene, q.ask, *q.options, q.note or ""]:
            # a scene may quote a scammer (“…”); the quiz's own words never ask
            assert not ASKS_FOR_DATA.search(re.sub(r"“[^”]*”", "", text)), (q.id, text)
    assert sum(1 for q in bank.by_id.values() if q.red_flag) >= 55


def test_explanation_comes_from_the_kb(bank, real_kb):
    q = bank.question("eld_safe_account")
    explanation = bank.explain(q)
    assert explanation.red_flag == real_kb.red_flags["safe_account"][1].description
    assert explanation.tip == real_kb.scam_types["police_impersonation"].verify_tip
    scam = real_kb.scam_types["police_impersonation"]
    assert explanation.advice in scam.advice.never + scam.advice.do_now
    assert "安全账户" in explanation.advice  # the closest advice line, not any line
    lines = explanation.lines()
    assert lines[0].startswith("要注意：") and lines[-1].startswith("怎么核实：")


def test_a_question_note_comes_first(bank):
    explanation = bank.explain(bank.question("eld_96110_call"))
    assert explanation.red_flag is None
    assert explanation.lines()[0] == explanation.note and "96110" in explanation.note


# -- broken banks ------------------------------------------------------------------------------

@pytest.mark.parametrize("change, where", [
    (lambda d: d["questions"][0].update(type="no_such_type"), "questions.0.type"),
    (lambda d: d["questions"][0].update(type="none"), "questions.0.type"),
    (lambda d: d["questions"][1].update(red_flag="no_such_flag"), "questions.1.red_flag"),
    (lambda d: d["questions"][1].update(red_flag="brush_advance_pay"), "questions.1.red_flag"),
    (lambda d: d["questions"][0].update(answer="d"), "questions.0.answer"),
    (lambda d: d["questions"][0].update(answer="e"), "questions.0.answer"),
    (lambda d: d["questions"][0].update(options=["只有", "两个"]), "questions.0.options"),
    (lambda d: d["questions"][0]["options"].__setitem__(0, "长" * 31), "questions.0.options"),
    (lambda d: d["questions"][0]["options"].__setitem__(1, d["questions"][0]["options"][0]), "questions.0.options"),
    (lambda d: d["questions"][0].update(hint="typo"), "questions.0.hint"),
    (lambda d: d["questions"][0].pop("scene"), "questions.0.scene"),
    (lambda d: d.update(audience="parents"), "audience"),
    (lambda d: d.update(audience="martians"), "audience"),
    (lambda d: d.update(questions=[]), "questions"),
])
def test_broken_bank_names_file_and_field(real_kb, quiz_dir, change, where):
    path = quiz_dir / "elderly.yml"
    edit_yaml(path, change)
    with pytest.raises(QuizDataError) as err:
        load_quiz_bank(real_kb, quiz_dir)
    assert str(path) in str(err.value) and where in str(err.value), str(err.value)


def test_question_ids_are_unique_across_files(real_kb, quiz_dir):
    first = yaml.safe_load((quiz_dir / "elderly.yml").read_text(encoding="utf-8"))["questions"][0]["id"]
    edit_yaml(quiz_dir / "students.yml", lambda d: d["questions"][0].update(id=first))
    with pytest.raises(QuizDataError, match=rf"students.yml: questions.0.id: '{first}' is already used"):
        load_quiz_bank(real_kb, quiz_dir)


def test_unreadable_yaml_and_empty_folder(real_kb, quiz_dir, tmp_path):
    (quiz_dir / "all.yml").write_text("questions: [unclosed", encoding="utf-8")
    with pytest.raises(QuizDataError, match="all.yml: cannot read YAML"):
        load_quiz_bank(real_kb, quiz_dir)
    (quiz_dir / "all.yml").write_text("- a list", encoding="utf-8")
    with pytest.raises(QuizDataError, match="all.yml: top level must be a mapping"):
        load_quiz_bank(real_kb, quiz_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(QuizDataError, match="no question banks"):
        load_quiz_bank(real_kb, empty)


# -- the session ---------------------------------------------------------------------------------

def test_start_picks_without_repeats_mostly_from_the_audience(bank):
    session = QuizSession.start(bank, "elderly", seed=7)
    assert session.total == 10 and len(set(session.questions)) == 10
    own = {q.id for q in bank.by_audience["elderly"]}
    shared = {q.id for q in bank.by_audience["all"]}
    assert sum(q in own for q in session.questions) == 7
    assert set(session.questions) <= own | shared
    assert QuizSession.start(bank, "elderly", seed=7).questions == session.questions
    assert QuizSession.start(bank, "elderly", seed=8).questions != session.questions
    everyone = QuizSession.start(bank, "all", count=20, seed=1)
    assert len(set(everyone.questions)) == 20


@pytest.mark.parametrize("audience, count", [("martians", 10), ("elderly", 0), ("elderly", 31)])
def test_start_refuses_bad_input(bank, audience, count):
    with pytest.raises(QuizStateError):
        QuizSession.start(bank, audience, count)


def _play(bank, session, right: int):
    results = []
    while not session.finished:
        q = session.current(bank)
        choice = q.answer_index if len(results) < right else (q.answer_index + 1) % len(q.options)
        results.append(session.answer(bank, choice))
    return results


@pytest.mark.parametrize("right, level", [(10, "反诈达人"), (9, "反诈达人"), (8, "还需留心"),
                                          (6, "还需留心"), (5, "要多学习"), (0, "要多学习")])
def test_scoring_and_levels(bank, right, level):
    session = QuizSession.start(bank, "students", seed=3)
    results = _play(bank, session, right)
    assert [r.correct for r in results] == [True] * right + [False] * (10 - right)
    card = session.result(bank, today=date(2026, 5, 4))
    assert (card.score, card.total, card.level, card.date) == (right, 10, level, "2026-05-04")
    assert card.audience_label == "学生"


def test_result_card_tip_comes_from_the_first_missed_type(bank, real_kb):
    session = QuizSession.start(bank, "parents", seed=5)
    first = bank.question(session.questions[0])
    session.answer(bank, (first.answer_index + 1) % len(first.options))
    _play(bank, session, right=10)
    card = session.result(bank)
    assert card.tip_type == first.type and card.tip == real_kb.scam_types[first.type].verify_tip
    perfect = QuizSession.start(bank, "parents", seed=5)
    _play(bank, perfect, right=10)
    assert perfect.result(bank).tip == GENERAL_TIP


def test_result_card_holds_only_quiz_facts(bank):
    session = QuizSession.start(bank, "elderly", seed=2)
    _play(bank, session, right=4)
    card = session.result(bank).to_dict()
    assert set(card) == {"audience", "audience_label", "score", "total", "level", "message", "date",
                         "tip", "tip_type"}


def test_answer_feedback_names_the_right_option(bank):
    session = QuizSession.start(bank, "all", seed=11)
    q = session.current(bank)
    wrong = (q.answer_index + 1) % len(q.options)
    result = session.answer(bank, wrong)
    assert not result.correct and result.correct_option == q.options[q.answer_index]
    assert result.to_dict()["correct_choice"] == q.answer and session.missed == [q.type]
    assert session.index == 1 and session.score == 0


def test_answer_refuses_bad_choices_and_finished_quizzes(bank):
    session = QuizSession.start(bank, "all", count=1, seed=1)
    with pytest.raises(QuizStateError):
        session.answer(bank, 4)
    with pytest.raises(QuizStateError):
        session.result(bank)
    session.answer(bank, 0)
    with pytest.raises(QuizStateError, match="over"):
        session.answer(bank, 0)


def test_state_round_trip_and_bad_states(bank):
    session = QuizSession.start(bank, "elderly", seed=4)
    session.answer(bank, 0)
    again = QuizSession.from_dict(bank, session.to_dict())
    assert again == session
    good = session.to_dict()
    for bad in [None, [], "x", {**good, "audience": "x"}, {**good, "questions": ["nope"]},
                {**good, "questions": good["questions"][:1] * 2}, {**good, "index": 11},
                {**good, "score": 5}, {**good, "index": "a"}, {**good, "missed": ["x"]},
                {k: v for k, v in good.items() if k != "questions"}]:
        with pytest.raises(QuizStateError):
            QuizSession.from_dict(bank, bad)


def test_question_view_hides_the_answer(bank):
    q = bank.question("eld_etc_sms")
    view = question_view(q, 3, 10)
    assert view["number"] == 3 and [o["choice"] for o in view["options"]] == ["a", "b", "c", "d"]
    assert "answer" not in view and "note" not in view


# -- typed answers, levels, cards from URLs -------------------------------------------------------

OPTIONS = ["听“警官”的，配合调查", "挂断电话，自己打 110 问", "把卡号报给对方核对"]


@pytest.mark.parametrize("text, expected", [
    ("A", 0), ("b", 1), ("Ｃ", 2), ("选B", 1), ("我选c", 2), ("答案是A", 0), ("选 b 吧", 1),
    ("第二个", 1), ("我选第三个", 2), ("第一项", 0), ("2", 1), ("选3", 2),
    ("挂断电话，自己打110问", 1), ("D", None), ("第四个", None), ("我不知道", None),
    ("", None), ("随便", None), ("abc", None),
])
def test_parse_typed_choice(text, expected):
    assert parse_choice(text, OPTIONS) == expected


def test_level_boundaries():
    assert level_for(9, 10)[0] == "反诈达人" and level_for(6, 10)[0] == "还需留心"
    assert level_for(0, 10)[0] == "要多学习" and level_for(0, 0)[0] == "要多学习"


def test_result_card_from_url_values_is_checked(real_kb):
    card = result_card(real_kb, "elderly", 8, 10, date(2026, 1, 2), "police_impersonation")
    assert card.level == "还需留心" and card.tip == real_kb.scam_types["police_impersonation"].verify_tip
    for args in [("x", 1, 10, None), ("elderly", 11, 10, None), ("elderly", -1, 10, None),
                 ("elderly", 1, 0, None), ("elderly", 1, 31, None), ("elderly", 1, 10, "none"),
                 ("elderly", 1, 10, "zzz")]:
        with pytest.raises(QuizStateError):
            result_card(real_kb, args[0], args[1], args[2], date(2026, 1, 2), args[3])


@pytest.mark.parametrize("text, audience", [
    ("给老人做个防骗测试", "elderly"), ("帮我孩子出几道防骗题", "students"), ("家长反诈小测试", "parents"),
    ("学生的反诈测验", "students"), ("考考大家", "all"), ("考考我", None), ("", None),
])
def test_audience_named_in_a_request(text, audience):
    assert audience_named_in(text) == audience


def test_the_tip_is_about_the_type_missed_most(bank, real_kb):
    ids = [q.id for q in bank.by_audience["all"][:3]]
    session = QuizSession("all", ids, index=3, score=0,
                          missed=["fake_loan", "romance_scam", "romance_scam"])
    card = session.result(bank)
    assert card.tip_type == "romance_scam" and card.tip == real_kb.scam_types["romance_scam"].verify_tip
