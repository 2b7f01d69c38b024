"""The quiz and drill actions (actions/outreach.py) on fake trackers, like tests/test_actions.py."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from actions import texts
from actions.outreach import (
    MODE_SLOT,
    NORMAL_ACTIONS,
    STALE_AFTER_SECONDS,
    STATE_SLOT,
    ActionDrillReply,
    ActionQuizAnswer,
    ActionStartDrill,
    ActionStartQuiz,
    ActionStopOutreach,
)
from bot.outreach.quiz import default_quiz_bank
from bot.outreach.simulation import PERSONAL_DATA_WARNING, default_simulations
from test_actions import Conversation

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = re.compile(r'^/(\w+)(\{.*\})?$')


def press(chat: Conversation, action, payload: str):
    """Sends a button payload the way Rasa parses it (intent + entities)."""
    intent, raw = PAYLOAD.match(payload).groups()
    entities = [{"entity": k, "value": v} for k, v in json.loads(raw or "{}").items()]
    return chat.run(action, {"text": payload, "intent": {"name": intent, "confidence": 1.0}, "entities": entities})


def buttons(chat: Conversation) -> List[dict]:
    return [b for m in chat.messages for b in m.get("buttons") or []]


def state(chat: Conversation) -> Dict[str, Any]:
    return chat.slots[STATE_SLOT]["session"]


# -- quiz --------------------------------------------------------------------------------------

def test_quiz_asks_who_is_playing_first():
    chat = Conversation()
    chat.say(ActionStartQuiz(), "考考我", "start_quiz")
    assert "先选一选" in chat.texts[0] and not chat.returned
    assert [b["payload"] for b in buttons(chat)] == [
        '/start_quiz{"audience": "elderly"}', '/start_quiz{"audience": "parents"}',
        '/start_quiz{"audience": "students"}', '/start_quiz{"audience": "all"}']


def test_a_quiz_named_for_an_audience_starts_at_once():
    chat = Conversation()
    chat.say(ActionStartQuiz(), "给老人做个防骗测试", "start_quiz")
    assert chat.slots[MODE_SLOT] == "quiz" and state(chat)["audience"] == "elderly"
    assert chat.texts[0].startswith("📝 老年朋友防骗小测验")


def test_a_quiz_from_first_question_to_result_card():
    chat = Conversation()
    bank = default_quiz_bank()
    press(chat, ActionStartQuiz(), '/start_quiz{"audience": "elderly"}')
    assert chat.slots[MODE_SLOT] == "quiz" and chat.texts[1].startswith("第 1/10 题")
    first = buttons(chat)
    assert first[0]["payload"] == '/choose_option{"choice": "1:a"}' and first[0]["title"].startswith("A. ")
    for number in range(1, 11):
        question = bank.question(state(chat)["questions"][number - 1])
        letter = question.answer if number <= 8 else "abcd"[(question.answer_index + 1) % len(question.options)]
        press(chat, ActionQuizAnswer(), '/choose_option{"choice": "%d:%s"}' % (number, letter))
        feedback = chat.texts[0]
        if number <= 8:
            assert feedback.startswith(texts.QUIZ_RIGHT)
        else:
            assert feedback.startswith("❌ 答错了。正确答案是 %s" % question.answer.upper())
        assert "怎么核实：" in feedback  # the KB's verify tip after every answer
        if number < 10:
            assert chat.texts[1].startswith(f"第 {number + 1}/10 题")
    assert "答对 8/10 题" in chat.texts[-1] and "还需留心" in chat.texts[-1]
    assert chat.slots[MODE_SLOT] is None and chat.slots[STATE_SLOT] is None
    assert "/start_quiz" in [b["payload"] for b in buttons(chat)]


def test_quiz_accepts_typed_answers_and_re_asks_otherwise():
    chat = Conversation()
    press(chat, ActionStartQuiz(), '/start_quiz{"audience": "parents"}')
    chat.say(ActionQuizAnswer(), "随便说点什么", "nlu_fallback")
    assert chat.texts[0] == texts.QUIZ_NOT_A_CHOICE and chat.texts[1].startswith("第 1/10 题")
    assert not chat.returned
    chat.say(ActionQuizAnswer(), "我选B", "choose_option")
    assert chat.texts[0].startswith(("✅", "❌")) and state(chat)["index"] == 1


def test_an_old_button_does_not_answer_the_current_question():
    chat = Conversation()
    press(chat, ActionStartQuiz(), '/start_quiz{"audience": "all"}')
    press(chat, ActionQuizAnswer(), '/choose_option{"choice": "1:a"}')
    press(chat, ActionQuizAnswer(), '/choose_option{"choice": "1:b"}')
    assert chat.texts[0] == texts.QUIZ_OLD_QUESTION and chat.texts[1].startswith("第 2/10 题")
    assert state(chat)["index"] == 1


def test_an_option_without_a_quiz_offers_a_new_one():
    chat = Conversation()
    press(chat, ActionQuizAnswer(), '/choose_option{"choice": "3:a"}')
    assert chat.texts == [texts.QUIZ_NONE_ACTIVE] and not chat.returned
    chat.slots.update({MODE_SLOT: "quiz", STATE_SLOT: {"kind": "quiz", "session": {"bad": 1}, "updated": time.time()}})
    press(chat, ActionQuizAnswer(), '/choose_option{"choice": "3:a"}')
    assert chat.texts == [texts.QUIZ_NONE_ACTIVE] and chat.slots[MODE_SLOT] is None


# -- drills ------------------------------------------------------------------------------------

def test_drill_named_in_the_request_starts_with_a_clear_intro():
    chat = Conversation()
    chat.say(ActionStartDrill(), "模拟一下刷单诈骗", "start_drill")
    assert chat.slots[MODE_SLOT] == "drill" and state(chat)["type"] == "brushing_rebate"
    assert chat.texts[0].startswith("🎭 演练开始") and "不要输入真实" in chat.texts[0]
    assert chat.texts[1].startswith("第 1/4 步") and "别输入真实信息" in chat.texts[1]
    assert [b["payload"] for b in buttons(chat)] == ['/choose_option{"choice": "1:1"}', '/choose_option{"choice": "1:2"}']


def test_drill_menu_when_no_type_or_a_type_without_a_script():
    library = default_simulations()
    chat = Conversation()
    chat.say(ActionStartDrill(), "反诈演练", "start_drill")
    assert chat.texts[0] == texts.DRILL_MENU and not chat.returned
    assert len(buttons(chat)) == len(library.scripts)
    chat.say(ActionStartDrill(), "模拟一下杀猪盘", "start_drill")
    assert chat.texts[0].startswith("「杀猪盘」还没有演练脚本") and MODE_SLOT not in chat.slots
    press(chat, ActionStartDrill(), '/start_drill{"scam_type": "fan_scam"}')
    assert state(chat)["type"] == "fan_scam"


def test_a_drill_to_the_end_with_buttons_and_own_words(real_kb):
    chat = Conversation()
    press(chat, ActionStartDrill(), '/start_drill{"scam_type": "brushing_rebate"}')
    press(chat, ActionDrillReply(), '/choose_option{"choice": "1:2"}')
    assert chat.texts[0].startswith("✅ 安全！") and "要识破的信号：点赞、关注、截图就给钱" in chat.texts[0]
    chat.say(ActionDrillReply(), "好的", "affirm")
    assert chat.texts[0].startswith("❌ 不安全") and chat.texts[1].startswith("第 3/4 步")
    chat.say(ActionDrillReply(), "你说什么？", "nlu_fallback")
    assert chat.texts[0].startswith("🤔") and chat.texts[1].startswith("第 3/4 步")
    chat.say(ActionDrillReply(), "我的卡号是6222021234567890123", "describe_situation")
    assert PERSONAL_DATA_WARNING in chat.texts[0] and chat.texts[1].startswith("第 4/4 步")
    chat.say(ActionDrillReply(), "不充了，我要打110报警", "describe_situation")
    end = chat.texts[-1]
    assert end.startswith("🏁 演练结束：2/4 步回得安全") and "遇到「刷单返利」，现在就做：" in end
    assert all(line in end for line in real_kb.scam_types["brushing_rebate"].advice.do_now)
    assert "📞" in end and "110" in end
    assert chat.slots[MODE_SLOT] is None and chat.slots[STATE_SLOT] is None


def test_a_real_loss_during_a_drill_is_not_ignored():
    chat = Conversation()
    press(chat, ActionStartDrill(), '/start_drill{"scam_type": "police_impersonation"}')
    chat.say(ActionDrillReply(), "我已经转了五万", "report_loss")
    assert texts.DRILL_REAL_LOSS in chat.texts[0] and "110" in texts.DRILL_REAL_LOSS


def test_old_drill_buttons_and_typed_numbers():
    chat = Conversation()
    press(chat, ActionStartDrill(), '/start_drill{"scam_type": "health_product"}')
    press(chat, ActionDrillReply(), '/choose_option{"choice": "1:1"}')
    press(chat, ActionDrillReply(), '/choose_option{"choice": "1:2"}')
    assert chat.texts[0] == texts.DRILL_OLD_STEP and state(chat)["step"] == 1
    chat.say(ActionDrillReply(), "2", "choose_option")
    assert chat.texts[0].startswith("✅") and state(chat)["replies"] == ["unsafe", "safe"]


def test_a_stale_drill_lets_a_real_message_through_to_the_self_check():
    chat = Conversation()
    press(chat, ActionStartDrill(), '/start_drill{"scam_type": "game_trading"}')
    chat.slots[STATE_SLOT] = {**chat.slots[STATE_SLOT], "updated": time.time() - STALE_AFTER_SECONDS - 5}
    chat.say(ActionDrillReply(), "有人说我孩子游戏账号冻结了要交解冻费", "describe_situation")
    assert chat.texts == [texts.OUTREACH_EXPIRED.format(what="演练")]
    assert {"event": "followup", "name": "action_self_check"} in [
        {"event": e["event"], "name": e.get("name")} for e in chat.returned]
    assert chat.slots[MODE_SLOT] is None


def test_normal_actions_for_stale_replies_match_the_rules():
    rules = yaml.safe_load((ROOT / "data" / "rules" / "conversation.yml").read_text(encoding="utf-8"))["rules"]
    by_intent = {}
    for rule in rules:
        steps = rule["steps"]
        if "condition" not in rule and len(steps) == 2 and "intent" in steps[0]:
            by_intent[steps[0]["intent"]] = steps[1]["action"]
    assert NORMAL_ACTIONS == {i: by_intent[i] for i in NORMAL_ACTIONS}
    drill_rules = yaml.safe_load((ROOT / "data" / "rules" / "outreach.yml").read_text(encoding="utf-8"))["rules"]
    free_text = {r["steps"][0]["intent"] for r in drill_rules
                 if r.get("condition") == [{"slot_was_set": [{"outreach_mode": "drill"}]}]} - {"choose_option"}
    assert free_text == set(NORMAL_ACTIONS)


# -- stop --------------------------------------------------------------------------------------

@pytest.mark.parametrize("start, payload, what", [
    (ActionStartQuiz, '/start_quiz{"audience": "students"}', "测验"),
    (ActionStartDrill, '/start_drill{"scam_type": "fake_teacher"}', "演练"),
])
def test_stop_goes_back_to_the_self_check(start, payload, what):
    chat = Conversation()
    press(chat, start(), payload)
    chat.say(ActionStopOutreach(), "不玩了", "stop_outreach")
    assert chat.texts == [texts.OUTREACH_STOPPED.format(what=what)]
    assert buttons(chat) == texts.MENU_BUTTONS
    assert chat.slots[MODE_SLOT] is None and chat.slots[STATE_SLOT] is None


def test_stop_with_nothing_running():
    chat = Conversation()
    chat.say(ActionStopOutreach(), "退出", "stop_outreach")
    assert chat.texts == [texts.OUTREACH_NOTHING_TO_STOP] and chat.returned == []
