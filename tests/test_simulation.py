"""骗局模拟演练: scripts (data/outreach/simulations), free-text replies, the drill session."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.outreach.simulation import (
    DEFAULT_SIMULATION_DIR,
    PERSONAL_DATA_WARNING,
    SAFE,
    UNSAFE,
    UNSURE,
    UNSURE_GUIDANCE,
    DrillSession,
    DrillStateError,
    SimulationDataError,
    classify_reply,
    load_simulations,
    looks_like_personal_data,
    step_view,
)
from test_quiz import ASKS_FOR_DATA
from tests.conftest import edit_yaml

ELDERLY_TYPES = {"health_product", "pension_scam", "police_impersonation"}
YOUNG_TYPES = {"game_trading", "fan_scam", "brushing_rebate"}


@pytest.fixture(scope="module")
def library(real_kb):
    return load_simulations(real_kb)


@pytest.fixture
def sim_dir(tmp_path: Path) -> Path:
    target = tmp_path / "simulations"
    shutil.copytree(DEFAULT_SIMULATION_DIR, target)
    return target


# -- the scripts ------------------------------------------------------------------------------

def test_scripts_cover_elderly_people_and_children(library):
    assert len(library.scripts) >= 8
    assert ELDERLY_TYPES | YOUNG_TYPES <= set(library.scripts)
    for type_id in ELDERLY_TYPES:
        assert "elderly" in library.scripts[type_id].audience
    for type_id in YOUNG_TYPES:
        assert "students" in library.scripts[type_id].audience
    menu = library.menu()
    assert {m["type"] for m in menu} == set(library.scripts) and all(m["name"] for m in menu)


def test_every_script_is_a_clear_drill_that_asks_for_nothing_real(library, real_kb):
    for type_id, script in library.scripts.items():
        assert "演练" in script.intro and "不要" in script.intro, type_id
        assert 3 <= len(script.steps) <= 6
        for step in script.steps:
            assert step.red_flag in {f.id for f in real_kb.flags_of(type_id)}
            assert {o.safe for o in step.options} == {True, False}
            # the scammer's line is shown inside “…” as role-play; the drill's own words never ask
            for text in [script.intro, *[o.feedback for o in step.options], *[o.text for o in step.options]]:
                assert not ASKS_FOR_DATA.search(text), (type_id, text)
            assert not re.search(r"(发|告诉|报)给我[^。]{0,4}(身份证|卡号|密码)", step.says), step.says


def test_the_safe_reply_is_not_always_in_the_same_place(library):
    steps = [step for script in library.scripts.values() for step in script.steps]
    safe_first = sum(step.options[0].safe for step in steps)
    assert 0.25 * len(steps) <= safe_first <= 0.75 * len(steps), safe_first


@pytest.mark.parametrize("change, where", [
    (lambda d: d.update(type="romance_scam"), "type"),
    (lambda d: d.update(type="no_such_type"), "type"),
    (lambda d: d.update(intro="我是骗子，请配合。"), "intro"),
    (lambda d: d["steps"][0].update(red_flag="sms_etc"), "steps.0.red_flag"),
    (lambda d: [o.update(safe=True) for o in d["steps"][1]["options"]], "steps.1.options"),
    (lambda d: d["steps"][0]["options"][0].update(text="长" * 25), "steps.0.options.0.text"),
    (lambda d: d["steps"][0]["options"][0].pop("feedback"), "steps.0.options.0.feedback"),
    (lambda d: d.update(steps=d["steps"][:2]), "steps"),
    (lambda d: d.update(audience=["aliens"]), "audience.0"),
    (lambda d: d.update(voice="deep"), "voice"),
])
def test_broken_script_names_file_and_field(real_kb, sim_dir, change, where):
    path = sim_dir / "brushing_rebate.yml"
    edit_yaml(path, change)
    with pytest.raises(SimulationDataError) as err:
        load_simulations(real_kb, sim_dir)
    assert str(path) in str(err.value) and where in str(err.value), str(err.value)


def test_unreadable_script_and_empty_folder(real_kb, sim_dir, tmp_path):
    (sim_dir / "fan_scam.yml").write_text("steps: [", encoding="utf-8")
    with pytest.raises(SimulationDataError, match="fan_scam.yml: cannot read YAML"):
        load_simulations(real_kb, sim_dir)
    empty = tmp_path / "none"
    empty.mkdir()
    with pytest.raises(SimulationDataError, match="no simulation scripts"):
        load_simulations(real_kb, empty)


# -- free-text replies ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "挂了", "我挂电话了", "你是骗子吧", "我不转账", "不转", "不给", "不", "我先问问我儿子",
    "我要打110报警", "我打96110问问", "先挂了，我去银行柜台问", "验证码不给你", "我不会把验证码告诉你",
    "别想让我把钱转给你", "我没有下载", "我考虑一下", "不感兴趣", "我自己去派出所问", "假的，我不信",
    "问问子女再买", "我告诉你，我要报警", "不用了，谢谢", "不，谢谢", "没兴趣", "不，我不进群",
])
def test_safe_replies(text):
    assert classify_reply(text) == SAFE


@pytest.mark.parametrize("text", [
    "好的", "行", "嗯", "可以", "好的，我马上转", "我这就去银行转账", "把验证码发给你", "怎么操作",
    "下载好了", "我马上下载", "点开看看", "好，我买两盒", "我先垫付500", "我打110之前先转一点给你",
    "扫码了", "那我共享屏幕", "好吧我加你微信", "不，我马上转",
])
def test_unsafe_replies(text):
    assert classify_reply(text) == UNSAFE


@pytest.mark.parametrize("text", ["我不知道", "你说什么", "啊？", "", "为什么", "我不知道怎么办", "不是"])
def test_not_sure_replies(text):
    assert classify_reply(text) == UNSURE


@pytest.mark.parametrize("text, real", [
    ("我的电话是13812345678", True), ("卡号6222 0212 3456 7890 123", True),
    ("110105199003071234", True), ("验证码是384756", True), ("我叫张伟", True),
    ("我要打110", False), ("96110", False), ("我不给验证码", False), ("一单3块", False),
])
def test_personal_data_is_recognised(text, real):
    assert looks_like_personal_data(text) is real


# -- the session --------------------------------------------------------------------------------

def _safe_index(step):
    return next(i for i, o in enumerate(step.options) if o.safe)


def _unsafe_index(step):
    return next(i for i, o in enumerate(step.options) if not o.safe)


def test_a_perfect_drill_ends_with_a_full_score_and_the_kb_advice(library, real_kb):
    session = DrillSession.start(library, "police_impersonation")
    flags = []
    while not session.finished(library):
        step = session.current(library)
        reply = session.choose(library, _safe_index(step))
        assert reply.verdict == SAFE and reply.advanced
        assert reply.feedback == step.options[_safe_index(step)].feedback
        flags.append(reply.red_flag)
    scam = real_kb.scam_types["police_impersonation"]
    assert flags[0] == real_kb.red_flags["pi_medical_card"][1].description
    result = session.result(library)
    assert (result.score, result.total, result.level) == (5, 5, "反诈达人")
    assert result.do_now == scam.advice.do_now and result.never == scam.advice.never
    assert [h["number"] for h in result.hotlines][:2] == ["110", "96110"]


def test_unsafe_buttons_and_typed_replies_are_scored(library):
    session = DrillSession.start(library, "brushing_rebate")
    step = session.current(library)
    assert session.choose(library, _unsafe_index(step)).verdict == UNSAFE
    step = session.current(library)
    reply = session.reply_text(library, "好的，我进群")
    assert reply.verdict == UNSAFE and reply.feedback == step.options[_unsafe_index(step)].feedback
    reply = session.reply_text(library, "要我先垫钱？我不垫，你是骗子")
    assert reply.verdict == SAFE and reply.red_flag
    reply = session.reply_text(library, "你说啥")
    assert reply.verdict == UNSURE and reply.feedback == UNSURE_GUIDANCE and not reply.advanced
    assert session.step == 3  # "not sure" does not use up the step
    session.reply_text(library, "我挂了")
    result = session.result(library)
    assert (result.score, result.total, result.level) == (2, 4, "要多学习")


def test_real_personal_data_gets_a_warning_even_in_a_drill(library):
    session = DrillSession.start(library, "customer_service_impersonation")
    reply = session.reply_text(library, "我的手机号是13912345678")
    assert reply.personal_data and reply.verdict == UNSAFE
    assert reply.feedback == PERSONAL_DATA_WARNING and "演练" in reply.feedback
    assert session.step == 1


def test_state_round_trip_and_bad_states(library):
    session = DrillSession.start(library, "fan_scam")
    session.choose(library, 1)
    assert DrillSession.from_dict(library, session.to_dict()) == session
    good = session.to_dict()
    for bad in [None, "x", {**good, "type": "romance_scam"}, {**good, "step": 9},
                {**good, "safe": 3}, {**good, "replies": ["maybe"]}, {**good, "step": -1},
                {k: v for k, v in good.items() if k != "type"}]:
        with pytest.raises(DrillStateError):
            DrillSession.from_dict(library, bad)


def test_bad_choices_and_finished_drills(library):
    with pytest.raises(DrillStateError):
        DrillSession.start(library, "romance_scam")
    session = DrillSession.start(library, "game_trading")
    with pytest.raises(DrillStateError):
        session.choose(library, 7)
    with pytest.raises(DrillStateError):
        session.result(library)
    while not session.finished(library):
        session.choose(library, 0)
    assert step_view(library, session) is None
    with pytest.raises(DrillStateError, match="over"):
        session.reply_text(library, "挂了")


def test_step_view_hides_which_reply_is_safe(library):
    view = step_view(library, DrillSession.start(library, "health_product"))
    assert view["number"] == 1 and view["total"] == 4 and view["scammer"]
    assert all(set(o) == {"choice", "text"} for o in view["options"])
