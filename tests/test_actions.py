"""Unit tests of the custom actions (actions/) with fake trackers and a CollectingDispatcher.

The conversation mechanics run against the tiny fixture KB (tests/fixtures/kb_min) so they
do not depend on the wording of data/kb; what needs real content (FAQ answers for every
scam type, the question cap, numbers) runs against the project's KB.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.fallback import ActionDefaultFallback, ActionFallback, ActionRestart
from actions.faq import (
    ActionCheckLinkOrNumber,
    ActionExplainScamType,
    ActionHotlineInfo,
    ActionVerifyIdentity,
    ActionWhichNumber,
)
from actions.selfcheck import (
    MAX_QUESTIONS,
    ActionAnswerQuestion,
    ActionContinueCheck,
    ActionGiveVerdict,
    ActionReportLoss,
    ActionSelfCheck,
)
from actions.state import MAX_DESCRIPTION, CheckState, merge_rankings
from bot.kb import find_type as find_scam_type

ROOT = Path(__file__).resolve().parents[1]
POLICE = {"police_impersonation": 0.9, "customer_service_impersonation": 0.05, "none": 0.03, "unknown": 0.02}
SERVICE = {"customer_service_impersonation": 0.95, "police_impersonation": 0.02, "none": 0.02, "unknown": 0.01}
NONE = {"none": 0.95, "police_impersonation": 0.02, "customer_service_impersonation": 0.02, "unknown": 0.01}
ANSWER_PAYLOADS = ["/affirm", "/deny", "/unsure"]
MODULES = ("actions.selfcheck", "actions.faq", "actions.fallback")
# Things the bot must never say or ask for.
FORBIDDEN = re.compile(
    r"一定安全|绝对安全|肯定安全|百分之百安全|放心(转|付)|"
    r"(请|麻烦)[^。\n]{0,3}(提供|告诉|发给|发|输入|报)[^。\n]{0,6}(身份证号|银行卡号|卡号|密码|验证码)|"
    r"把[^。\n]{0,6}(身份证号|银行卡号|卡号|密码|验证码)[^。\n]{0,4}(发给我|告诉我|报给我)"
)


class Conversation:
    """Slots and events of one conversation; runs actions on fake trackers."""

    def __init__(self) -> None:
        self.slots: Dict[str, Any] = {}
        self.events: List[Dict[str, Any]] = []
        self.messages: List[Dict[str, Any]] = []
        self.returned: List[Dict[str, Any]] = []

    def tracker(self, latest: Dict[str, Any]) -> Tracker:
        return Tracker("tester", dict(self.slots), latest, list(self.events), False, None, {}, "action_listen")

    def say(
        self,
        action,
        text: str,
        intent: str,
        ranking: Optional[Dict[str, float]] = None,
        entities: Optional[List[dict]] = None,
    ) -> List[Dict[str, Any]]:
        latest = {
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": entities or [],
            "scam_ranking": ranking or {},
        }
        return self.run(action, latest)

    def run(self, action, latest: Dict[str, Any], original: Optional[str] = None) -> List[Dict[str, Any]]:
        """Runs `action` after a user message whose parse result is `latest` (`original`:
        the text as typed, when the NLU pipeline normalised it)."""
        text = original if original is not None else latest.get("text") or ""
        self.events.append({"event": "user", "text": text, "parse_data": latest})
        dispatcher = CollectingDispatcher()
        returned = action.run(dispatcher, self.tracker(latest), {})
        self.returned = returned
        for event in returned:
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
            elif event["event"] == "restart":
                self.slots.clear()
                self.events.clear()
        self.events.append({"event": "action", "name": action.name()})
        self.messages = dispatcher.messages
        for message in dispatcher.messages:
            assert not FORBIDDEN.search(message.get("text") or ""), message["text"]
        return dispatcher.messages

    # helpers --------------------------------------------------------------------------
    @property
    def texts(self) -> List[str]:
        return [m["text"] for m in self.messages if m.get("text")]

    @property
    def verdict(self) -> Optional[dict]:
        for message in self.messages:
            if message.get("custom") and "verdict" in message["custom"]:
                return message["custom"]["verdict"]
        return None


def payloads(message: Dict[str, Any]) -> List[str]:
    return [b["payload"] for b in message.get("buttons") or []]


@pytest.fixture
def mini(monkeypatch, mini_kb):
    for module in MODULES:
        monkeypatch.setattr(f"{module}.current_kb", lambda: mini_kb)
    return mini_kb


@pytest.fixture
def real(monkeypatch, real_kb):
    for module in MODULES:
        monkeypatch.setattr(f"{module}.current_kb", lambda: real_kb)
    return real_kb


# -- self-check ---------------------------------------------------------------------------------


def test_description_names_the_type_then_asks_the_first_question(mini):
    chat = Conversation()
    messages = chat.say(ActionSelfCheck(), "我妈接到电话，说她医保卡在外地被盗刷了", "describe_situation", POLICE)
    assert chat.texts[0] == "听起来像「冒充公检法」诈骗。问您几个问题，帮您判断："
    assert chat.texts[1] == mini.questions["pi_q_transfer"][1].text
    assert payloads(messages[1]) == ANSWER_PAYLOADS
    assert [b["title"] for b in messages[1]["buttons"]] == ["是", "不是", "不确定"]
    assert chat.slots["pending_question"] == "pi_q_transfer"
    assert chat.slots["asked_questions"] == ["pi_q_transfer"]
    assert chat.slots["check_type"] == "police_impersonation"
    assert chat.slots["description"].startswith("我妈接到电话")
    assert chat.slots["scam_ranking"] == POLICE
    assert chat.verdict is None


def test_a_question_the_description_answers_is_not_asked(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "对方说我医保卡被盗刷，让我把钱转到安全账户", "describe_situation", POLICE)
    assert chat.slots["pending_question"] == "pi_q_video"
    assert "pi_q_transfer" not in chat.slots["asked_questions"]


def test_answers_one_at_a_time_then_the_verdict(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了，对方是警察", "describe_situation", POLICE)
    chat.say(ActionAnswerQuestion(), "/affirm", "affirm")
    assert chat.texts == [mini.questions["pi_q_video"][1].text]  # no repeated intro
    assert chat.slots["answers"] == {"pi_q_transfer": True}
    chat.say(ActionAnswerQuestion(), "没有", "deny")
    assert chat.texts == [mini.questions["pi_q_station"][1].text]
    messages = chat.say(ActionAnswerQuestion(), "不清楚", "unsure")
    assert chat.slots["answers"] == {"pi_q_transfer": True, "pi_q_video": False}
    verdict_text = chat.texts[0]
    lines = verdict_text.splitlines()
    assert lines[0] == "⚠️ 高危 · 冒充公检法及政府机关（含医保、社保）"
    assert lines[1] == "为什么："
    assert "·「医保卡被盗刷了」——说医保卡被盗刷再转接警察是套路" in lines
    assert "·您答了“是”：对方有没有让您转钱到安全账户" in lines
    assert "现在就做：" in lines
    assert "1. 挂断电话" in lines
    assert "📞 报警电话：110（钱已被骗走：马上打）" in lines
    # the verdict card follows the text, then an offer to go on
    assert chat.verdict["scam_type"] == "police_impersonation"
    assert chat.verdict["risk_level"] == "high"
    assert set(chat.verdict) >= {"scam_name", "red_flags", "advice", "hotlines", "questions"}
    assert "/restart" in payloads(messages[-1])
    assert chat.slots["pending_question"] is None
    assert chat.slots["verdict_given"] is True
    assert "check_risk" not in chat.slots  # issue 14: the slot was written, never read (risk: the verdict above)


def test_at_most_max_questions_are_asked(real):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "有个人打电话说他是派出所的", "describe_situation", {"police_impersonation": 0.95})
    assert len(real.scam_types["police_impersonation"].questions) > MAX_QUESTIONS
    for _ in range(MAX_QUESTIONS):
        assert chat.verdict is None
        chat.say(ActionAnswerQuestion(), "/deny", "deny")
    assert chat.verdict is not None
    assert len(chat.slots["asked_questions"]) == MAX_QUESTIONS


def test_a_free_text_yes_adds_the_residents_words(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了", "describe_situation", POLICE)
    chat.say(ActionAnswerQuestion(), "是的，他让我把钱转过去", "affirm")
    assert chat.slots["description"].endswith("是的，他让我把钱转过去")
    assert chat.slots["answers"] == {"pi_q_transfer": True}


def test_a_no_never_adds_words_to_the_description(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了", "describe_situation", POLICE)
    chat.say(ActionAnswerQuestion(), "没有，没让我转到安全账户", "deny")
    assert "安全账户" not in chat.slots["description"]
    assert chat.slots["answers"] == {"pi_q_transfer": False}


def test_a_yes_about_another_question_leaves_the_asked_one_open(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了", "describe_situation", POLICE)
    chat.say(ActionAnswerQuestion(), "/deny", "deny")  # transfer: no; now asking about video
    assert chat.slots["pending_question"] == "pi_q_video"
    chat.say(ActionAnswerQuestion(), "对，他还让我转到安全账户", "affirm")
    assert "pi_q_video" not in chat.slots["answers"]
    assert "安全账户" in chat.slots["description"]


def test_unsure_records_no_answer(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了", "describe_situation", POLICE)
    chat.say(ActionAnswerQuestion(), "不知道", "unsure")
    assert "answers" not in chat.slots or chat.slots["answers"] == {}
    assert chat.slots["pending_question"] == "pi_q_video"


def test_skip_questions_gives_the_verdict_so_far(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了", "describe_situation", POLICE)
    chat.say(ActionGiveVerdict(), "直接告诉我结果", "skip_questions")
    assert chat.verdict["scam_type"] == "police_impersonation"
    assert chat.texts[0].startswith(("⚠️ 高危", "🔶 中危", "ℹ️ 低危"))
    assert chat.slots["pending_question"] is None
    assert chat.slots["verdict_given"] is True


def test_a_long_story_taken_for_a_yes_with_no_question_open_is_a_description(mini):
    # DIET can read a story that starts with "对方…" as `affirm`; with no question open it is
    # a description, and the urgent rule applies to it like to any other (issue 11).
    chat = Conversation()
    chat.say(ActionAnswerQuestion(), "医保卡被盗刷了，对方让我转到安全账户，我已经转了两万块钱了", "affirm", POLICE)
    assert chat.texts[0].splitlines()[0] == texts.URGENT_HEADER
    assert texts.NO_QUESTION_PENDING_AFFIRM not in chat.texts
    assert chat.slots["money_lost"] is True


def test_a_short_yes_with_no_question_open_still_asks_for_a_description(mini):
    chat = Conversation()
    chat.say(ActionAnswerQuestion(), "是的", "affirm")
    assert chat.texts == [texts.NO_QUESTION_PENDING_AFFIRM]


def test_skip_questions_without_a_description_asks_for_one(mini):
    chat = Conversation()
    chat.say(ActionGiveVerdict(), "直接告诉我结果", "skip_questions")
    assert chat.texts == [texts.NOTHING_TO_ASSESS]
    assert chat.returned == []


def test_money_gone_in_the_description_puts_the_checklist_first(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了，我已经转了两万", "describe_situation", POLICE)
    first = chat.texts[0].splitlines()
    assert first[0] == texts.URGENT_HEADER
    assert first[1] == "1. 马上打 110 报警"
    assert chat.texts[1].startswith("听起来像「冒充公检法」")
    assert chat.slots["money_lost"] is True
    assert chat.slots["loss_advice_given"] is True
    chat.say(ActionGiveVerdict(), "直接告诉我结果", "skip_questions")
    lines = chat.texts[0].splitlines()
    assert lines[0] == texts.MONEY_LOST_FIRST_LINE
    assert lines[1].startswith("⚠️ 高危")
    assert chat.verdict["money_lost"] is True


def test_report_loss_in_the_middle_of_the_questions_then_continue(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了", "describe_situation", POLICE)
    chat.say(ActionAnswerQuestion(), "/affirm", "affirm")
    messages = chat.say(ActionReportLoss(), "我刚才已经转了，工商银行的卡", "report_loss")
    lines = chat.texts[0].splitlines()
    assert lines[0] == texts.URGENT_HEADER
    assert "1. 马上打 110 报警" in lines
    assert "📞 打中国工商银行客服 95588" in lines  # the KB's bank_named line (loss_steps)
    assert payloads(messages[-1]) == ["/continue_check", "/ask_which_number"]
    assert [b["title"] for b in messages[-1]["buttons"]] == ["继续自查", "求助电话"]
    assert chat.slots["money_lost"] is True
    assert chat.slots.get("pending_question") == "pi_q_video"  # still open
    chat.say(ActionContinueCheck(), "/continue_check", "continue_check")
    assert chat.texts == [mini.questions["pi_q_video"][1].text]
    chat.say(ActionAnswerQuestion(), "/deny", "deny")
    chat.say(ActionAnswerQuestion(), "/deny", "deny")
    assert chat.texts[0].splitlines()[0] == texts.MONEY_LOST_FIRST_LINE


def test_report_loss_without_a_bank_named_says_call_the_bank(mini):
    chat = Conversation()
    chat.say(ActionReportLoss(), "钱被转走了", "report_loss")
    assert "📞 " + mini.common.loss_checklist.bank_unknown in chat.texts[0].splitlines()


def test_continue_after_the_loss_asks_what_happened(mini):
    chat = Conversation()
    chat.say(ActionReportLoss(), "/report_loss", "report_loss")
    assert "description" not in chat.slots
    chat.say(ActionContinueCheck(), "/continue_check", "continue_check")
    assert chat.texts == [texts.ASK_DESCRIBE_AFTER_LOSS]
    chat.say(ActionSelfCheck(), "对方说是警察，说我医保卡被盗刷", "describe_situation", POLICE)
    # The whole checklist is not repeated; a one-line reminder still leads the turn (issue 11:
    # 110 and the bank come first on every turn of a check where money is gone).
    assert chat.texts[0] == texts.MONEY_LOST_FIRST_LINE
    assert not any(texts.URGENT_HEADER in t for t in chat.texts)
    assert chat.texts[1].startswith("听起来像「冒充公检法」")


def test_continue_with_nothing_to_continue_asks_for_a_description(mini):
    chat = Conversation()
    chat.say(ActionContinueCheck(), "继续", "continue_check")
    assert chat.texts == [texts.ASK_DESCRIBE]


def test_nothing_suspicious_is_low_risk_without_questions(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "【中国移动】您本月话费账单58元", "describe_situation", NONE)
    lines = chat.texts[0].splitlines()
    assert lines[0] == "ℹ️ 低危 · 未发现诈骗迹象"
    assert texts.NONE_WHY_LINE in lines
    assert "1. 通过官方渠道核实" in lines
    assert chat.verdict["risk_level"] == "low"
    assert chat.slots["check_type"] == "none"
    assert not chat.slots.get("asked_questions")


def test_a_decisive_flag_without_a_type_is_unknown(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "有人打电话问我验证码", "describe_situation", NONE)
    assert chat.verdict["scam_type"] == "unknown"
    assert "·「有人打电话问我验证码」——索要验证码" in chat.texts[0].splitlines()


def test_a_later_description_can_change_the_type(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "有人打电话", "describe_situation", {"police_impersonation": 0.6, "none": 0.4})
    assert chat.slots["check_type"] == "police_impersonation"
    chat.say(
        ActionSelfCheck(),
        "他说自己是淘宝客服，我买的东西有质量问题，要给我退款，让我按他说的操作",
        "describe_situation",
        SERVICE,
    )
    assert chat.texts[0] == "听起来更像「冒充客服」诈骗。再问您一下："
    assert chat.slots["pending_question"] == "cs_q_screen"


def test_a_description_instead_of_an_answer_moves_on(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了", "describe_situation", POLICE)
    chat.say(ActionSelfCheck(), "对方说话很凶", "describe_situation", POLICE)
    assert chat.slots["pending_question"] == "pi_q_video"
    assert chat.slots["description"] == "医保卡被盗刷了\n对方说话很凶"


def test_yes_or_no_without_a_question(mini):
    chat = Conversation()
    chat.say(ActionAnswerQuestion(), "是的", "affirm")
    assert chat.texts == [texts.NO_QUESTION_PENDING_AFFIRM]
    chat.say(ActionAnswerQuestion(), "没有", "deny")
    assert chat.texts == [texts.NO_QUESTION_PENDING_DENY]
    chat.say(ActionSelfCheck(), "【中国移动】话费账单58元", "describe_situation", NONE)
    messages = chat.say(ActionAnswerQuestion(), "嗯", "affirm")
    assert chat.texts == [texts.AFTER_VERDICT]
    assert "/restart" in payloads(messages[0])


def test_an_empty_description_asks_for_one(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "/describe_situation", "describe_situation")
    assert chat.texts == [texts.ASK_DESCRIBE]
    assert chat.returned == []


def test_the_description_is_capped():
    state = CheckState()
    state.add_text("骗" * (MAX_DESCRIPTION + 100))
    state.add_text("后来又说")
    assert len(state.description) == MAX_DESCRIPTION


def test_rankings_are_merged_by_text_length():
    merged = merge_rankings({"a": 1.0}, 10, {"b": 1.0}, 30)
    assert merged == pytest.approx({"a": 0.25, "b": 0.75})
    assert merge_rankings({}, 0, {"a": 0.5}, 3) == {"a": 0.5}


def test_indicator_entities_keep_their_place_in_the_description():
    state = CheckState()
    state.add_text("第一句")
    state.add_text("打13800138000", entities=[
        {"entity": "phone", "start": 1, "end": 12, "value": "13800138000"},
        {"entity": "scam_type", "start": 0, "end": 1, "value": "x"},
    ])
    (entity,) = state.entities
    assert state.description[entity["start"]:entity["end"]] == "13800138000"


def test_only_changed_slots_are_set(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了", "describe_situation", POLICE)
    chat.say(ActionAnswerQuestion(), "/unsure", "unsure")
    names = {e["name"] for e in chat.returned if e["event"] == "slot"}
    assert "description" not in names and "scam_ranking" not in names
    assert {"pending_question", "asked_questions"} <= names


# -- FAQ --------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_id", [
    "police_impersonation", "customer_service_impersonation", "fake_loan", "fake_credit_repair",
    "brushing_rebate", "fake_investment", "romance_scam", "acquaintance_impersonation",
    "game_trading", "fake_shopping", "prize_scam", "phishing_sms", "money_mule",
    "health_product", "pension_scam", "fake_teacher", "fan_scam", "fake_job", "sextortion",
    "fund_recovery",
])
def test_every_scam_type_is_explained_from_the_kb(real, type_id):
    scam = real.scam_types[type_id]
    chat = Conversation()
    chat.say(ActionExplainScamType(), f"什么是{scam.short_name}", "ask_scam_type")
    lines = chat.texts[0].splitlines()
    assert lines[0] == f"「{scam.short_name}」是怎么骗人的："
    assert lines[1] == scam.description.strip()
    assert texts.TYPE_RECOGNISE in lines
    strongest = max(real.flags_of(type_id), key=lambda f: f.weight)
    assert f"·{strongest.description}" in lines
    # the same answer from the button (entity in the payload)
    chat.say(ActionExplainScamType(), "/ask_scam_type", "ask_scam_type",
             entities=[{"entity": "scam_type", "value": type_id}])
    assert chat.texts[0].splitlines()[0] == lines[0]


def test_scam_types_are_found_by_their_aliases(real):
    assert find_scam_type(real, "杀猪盘是什么意思") == "romance_scam"
    assert find_scam_type(real, "刷单是怎么骗人的") == "brushing_rebate"
    assert find_scam_type(real, "什麼是殺豬盤") == "romance_scam"
    assert find_scam_type(real, "今天天气不错") is None


def test_scam_knowledge_without_a_type_shows_a_menu(real):
    chat = Conversation()
    messages = chat.say(ActionExplainScamType(), "/ask_scam_type", "ask_scam_type")
    assert chat.texts[0].startswith(texts.TYPE_MENU)
    assert '/ask_scam_type{"scam_type": "romance_scam"}' in payloads(messages[0])
    shown = chat.texts[0] + " ".join(b["title"] for b in messages[0]["buttons"])
    for type_id in real.scam_type_ids:
        assert real.scam_types[type_id].short_name in shown


def test_hotline_info_for_96110(real):
    chat = Conversation()
    chat.say(ActionHotlineInfo(), "96110是干什么的", "ask_hotline_info")
    text = chat.texts[0]
    assert "96110" in text and texts.HOTLINE_96110_CALLING in text
    assert "12381" not in text


def test_hotline_info_for_12381_and_the_app(real):
    chat = Conversation()
    chat.say(ActionHotlineInfo(), "12381发的短信是真的吗", "ask_hotline_info")
    assert "12381" in chat.texts[0]
    chat.say(ActionHotlineInfo(), "国家反诈中心app有什么用", "ask_hotline_info")
    assert real.hotlines["antifraud_app"].name in chat.texts[0]


def test_hotline_info_in_general_lists_the_anti_fraud_channels(real):
    chat = Conversation()
    chat.say(ActionHotlineInfo(), "反诈专线是多少", "ask_hotline_info")
    lines = chat.texts[0].splitlines()
    assert lines[0] == texts.HOTLINE_INFO_HEADER
    for number in ("96110", "12381", "12321"):
        assert any(number in line for line in lines)


@pytest.mark.parametrize("question, type_id", [
    ("自称警察打电话给我，怎么确认是真的", "police_impersonation"),
    ("孩子的老师在群里收钱，怎么核实", "fake_teacher"),
    ("我侄子微信找我借钱，怎么确认是他本人", "acquaintance_impersonation"),
])
def test_verify_identity_uses_the_types_verify_tip(real, question, type_id):
    chat = Conversation()
    chat.say(ActionVerifyIdentity(), question, "ask_verify_identity")
    lines = chat.texts[0].splitlines()
    assert lines[0].startswith("核实对方身份")
    assert any(real.scam_types[type_id].verify_tip in line for line in lines)


def test_verify_a_bank_gives_the_banks_number(real):
    chat = Conversation()
    chat.say(ActionVerifyIdentity(), "说是工商银行的，怎么核实", "ask_verify_identity")
    assert "95588" in chat.texts[0]
    assert texts.VERIFY_BANK_TIP in chat.texts[0]


def test_verify_someone_unspecified_covers_everyone(real):
    chat = Conversation()
    chat.say(ActionVerifyIdentity(), "怎么确认对方是真的", "ask_verify_identity")
    assert len(chat.texts[0].splitlines()) >= 1 + len(texts.VERIFY_WHO)


def test_an_official_number_is_named_but_never_called_safe(real):
    chat = Conversation()
    chat.say(ActionCheckLinkOrNumber(), "显示是95588打来的，是真的吗", "ask_link_or_number_safe")
    text = chat.texts[0]
    assert "95588 是中国工商银行客服的号码" in text
    assert texts.CALLER_ID_WARNING in text
    assert texts.LINK_NUMBER_HEADER in text


def test_an_unknown_number_or_link(real):
    chat = Conversation()
    chat.say(ActionCheckLinkOrNumber(), "这个号码安全吗 17012345678", "ask_link_or_number_safe")
    assert texts.LINK_NUMBER_UNKNOWN.format(value="17012345678") in chat.texts[0]
    assert texts.LINK_URL_TIPS[0] not in chat.texts[0]
    chat.say(ActionCheckLinkOrNumber(), "www.abc-etc.top 这个链接能点吗", "ask_link_or_number_safe")
    assert texts.LINK_URL_TIPS[0] in chat.texts[0]
    assert texts.LINK_INVITE in chat.texts[0]


def test_which_number_lists_every_hotline(real):
    chat = Conversation()
    chat.say(ActionWhichNumber(), "求助电话", "ask_which_number")
    text = chat.texts[0]
    for hotline in real.hotlines.values():
        assert hotline.name in text
    assert texts.WHICH_NUMBER_BANKS_HINT in text


def test_which_number_110_versus_96110(real):
    chat = Conversation()
    chat.say(ActionWhichNumber(), "110和96110有什么区别", "ask_which_number")
    assert chat.texts[0].startswith(texts.WHICH_NUMBER_110_VS_96110)
    assert "12381" not in chat.texts[0]  # an SMS sender, not a number to call


def test_which_number_for_a_bank(real):
    chat = Conversation()
    chat.say(ActionWhichNumber(), "建设银行客服电话多少", "ask_which_number")
    assert chat.texts[0].splitlines()[0] == "📞 中国建设银行客服：95533"


def test_which_number_after_a_loss_starts_with_110(real):
    chat = Conversation()
    chat.slots["money_lost"] = True
    chat.say(ActionWhichNumber(), "/ask_which_number", "ask_which_number")
    assert chat.texts[0].splitlines()[0] == texts.MONEY_LOST_FIRST_LINE


# -- fallback, restart --------------------------------------------------------------------------


def test_fallback_first_time_asks_to_rephrase_with_buttons(mini):
    chat = Conversation()
    messages = chat.say(ActionFallback(), "啊啊啊", "nlu_fallback")
    assert chat.texts == [texts.FALLBACK_FIRST]
    assert payloads(messages[0]) == [b["payload"] for b in texts.MENU_BUTTONS]


def test_fallback_second_time_in_a_row_gives_the_hotlines(mini):
    chat = Conversation()
    chat.say(ActionFallback(), "啊啊啊", "nlu_fallback")
    chat.say(ActionFallback(), "嗯嗯啊", "nlu_fallback")
    lines = chat.texts[0].splitlines()
    assert lines[0] == texts.FALLBACK_SECOND
    assert "📞 报警电话：110（钱已被骗走：马上打）" in lines
    assert "📞 反诈专线：96110（拿不准：打来问）" in lines


def test_fallback_during_the_questions_repeats_the_question(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了", "describe_situation", POLICE)
    messages = chat.say(ActionFallback(), "嗯？", "nlu_fallback")
    assert chat.texts == [texts.FALLBACK_FIRST_IN_QUESTION, mini.questions["pi_q_transfer"][1].text]
    assert payloads(messages[1]) == ANSWER_PAYLOADS


def test_fallback_on_a_long_text_checks_it(mini):
    chat = Conversation()
    chat.say(ActionFallback(), "对方发来一大段话，说我的医保卡在外地被盗刷了，要配合调查，不然后果自负", "nlu_fallback", POLICE)
    assert chat.slots["check_type"] == "police_impersonation"
    assert chat.slots["pending_question"] == "pi_q_transfer"


def test_fallback_on_a_red_flag_checks_it(mini):
    chat = Conversation()
    chat.say(ActionFallback(), "要验证码", "nlu_fallback")
    assert chat.slots["description"] == "要验证码"  # checked like a description
    assert chat.slots["check_type"] is not None
    assert texts.FALLBACK_FIRST not in chat.texts


def test_default_fallback_is_never_silent():
    chat = Conversation()
    messages = chat.say(ActionDefaultFallback(), "？？", "greet")
    assert chat.texts == [texts.FALLBACK_FIRST]
    assert payloads(messages[0])
    assert chat.returned == [{"event": "rewind", "timestamp": None}]


def test_restart_says_so_and_resets(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了", "describe_situation", POLICE)
    chat.say(ActionRestart(), "重新开始", "restart")
    assert chat.texts == [texts.RESTARTED]
    assert [e["event"] for e in chat.returned] == ["restart"]
    assert chat.slots == {}


# -- copy ------------------------------------------------------------------------------------------


def test_fixed_copy_never_asks_for_secrets_or_promises_safety():
    strings = [v for v in vars(texts).values() if isinstance(v, str)]
    strings += [line for v in vars(texts).values() if isinstance(v, list) for line in v if isinstance(line, str)]
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    strings += [variant["text"] for variants in domain["responses"].values() for variant in variants]
    for text in strings:
        assert not FORBIDDEN.search(text), text


def test_every_custom_action_in_the_domain_exists():
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert set(domain["actions"]) <= set(executor.actions)


# -- robustness of the check -------------------------------------------------------------------


def test_only_punctuation_is_not_checked(mini):
    chat = Conversation()
    messages = chat.say(ActionSelfCheck(), "？？？", "describe_situation", NONE)
    assert chat.texts == [texts.FALLBACK_FIRST]
    assert payloads(messages[0]) == [b["payload"] for b in texts.MENU_BUTTONS]
    assert chat.returned == []


def test_a_short_vague_description_asks_for_more(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "有人给我打电话", "describe_situation", NONE)
    assert chat.texts == [texts.ASK_MORE]
    assert chat.verdict is None
    chat.say(ActionSelfCheck(), "他说他是警察，说我的医保卡在外地被盗刷了", "describe_situation", POLICE)
    assert chat.slots["check_type"] == "police_impersonation"
    assert chat.slots["description"].startswith("有人给我打电话\n")


def test_a_short_answer_the_nlu_took_for_a_description_counts_as_the_answer(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了", "describe_situation", POLICE)
    latest = {
        "text": "是的，他让我开视频",
        "intent": {"name": "describe_situation", "confidence": 0.7},
        "intent_ranking": [
            {"name": "describe_situation", "confidence": 0.7},
            {"name": "affirm", "confidence": 0.25},
        ],
        "entities": [],
        "scam_ranking": POLICE,
    }
    chat.run(ActionSelfCheck(), latest)
    assert chat.slots["answers"] == {"pi_q_transfer": True}
    assert chat.slots["pending_question"] == "pi_q_video"
    assert chat.slots["description"].endswith("是的，他让我开视频")


def test_a_short_unclear_description_with_a_weak_type_asks_for_more(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "有点怪", "describe_situation", {"unknown": 0.9, "none": 0.1})
    assert chat.texts == [texts.ASK_MORE]


def test_quotes_are_the_residents_own_words(mini):
    """The NLU pipeline hands on Simplified text; the verdict quotes what was typed."""
    chat = Conversation()
    typed = "對方說我醫保卡被盜刷了"
    latest = {"text": "对方说我医保卡被盗刷了", "intent": {"name": "describe_situation"},
              "entities": [], "scam_ranking": POLICE}
    chat.run(ActionSelfCheck(), latest, original=typed)
    assert chat.slots["description"] == typed
    chat.say(ActionGiveVerdict(), "直接告诉我结果", "skip_questions")
    assert "·「對方說我醫保卡被盜刷了」——" in chat.texts[0]


def test_the_intro_does_not_say_scam_twice(real):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "有个养老公司让我爸投资养老公寓，说每年返百分之十五", "describe_situation",
             {"pension_scam": 0.95})
    short_name = real.scam_types["pension_scam"].short_name
    expected = f"「{short_name}」。" if short_name.endswith("诈骗") else f"「{short_name}」诈骗。"
    assert chat.texts[0].startswith(f"听起来像{expected}问您")


def test_after_a_verdict_a_clearly_different_story_starts_a_new_check(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了", "describe_situation", POLICE)
    chat.say(ActionGiveVerdict(), "直接告诉我结果", "skip_questions")
    chat.say(ActionSelfCheck(), "还有个淘宝客服说要给我退款", "describe_situation", SERVICE)
    assert chat.texts[0] == texts.NEW_CHECK
    assert chat.texts[1].startswith("听起来像「冒充客服」")
    assert chat.slots["description"] == "还有个淘宝客服说要给我退款"
    assert chat.slots["verdict_given"] is False
    assert chat.slots["asked_questions"] == ["cs_q_screen"]


def test_after_a_verdict_more_of_the_same_story_is_added(mini):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "医保卡被盗刷了", "describe_situation", POLICE)
    chat.say(ActionGiveVerdict(), "直接告诉我结果", "skip_questions")
    chat.say(ActionSelfCheck(), "对了，他还说要转到安全账户", "describe_situation", POLICE)
    assert texts.NEW_CHECK not in chat.texts
    assert chat.slots["description"] == "医保卡被盗刷了\n对了，他还说要转到安全账户"


# -- the loss stage and the one urgent rule (issue 11) ------------------------------------------


@pytest.fixture
def staged(monkeypatch, tmp_path, mini_kb):
    """The mini KB with one question whose "是" means money is gone (KB `questions.stage`)."""
    import shutil

    from bot.kb import load_kb

    kb_dir = tmp_path / "kb"
    shutil.copytree(ROOT / "tests" / "fixtures" / "kb_min", kb_dir)
    path = kb_dir / "scam_types" / "police_impersonation.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["questions"][0].update(text="钱已经转到对方说的安全账户了吗？", stage="paid")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    kb = load_kb(kb_dir)
    for module in MODULES:
        monkeypatch.setattr(f"{module}.current_kb", lambda: kb)
    return kb


def test_a_yes_to_a_question_that_names_a_stage_raises_it_and_the_urgent_steps_lead(staged):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "自称警察打电话说我医保卡被盗刷", "describe_situation", POLICE)
    assert chat.texts[-1] == "钱已经转到对方说的安全账户了吗？"
    assert not any(texts.URGENT_HEADER in t for t in chat.texts)
    chat.say(ActionAnswerQuestion(), "/affirm", "affirm")
    assert chat.texts[0].splitlines()[0] == texts.URGENT_HEADER
    assert chat.slots["money_lost"] is True and chat.slots["loss_advice_given"] is True


def test_a_no_to_that_question_raises_nothing(staged):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "自称警察打电话说我医保卡被盗刷", "describe_situation", POLICE)
    chat.say(ActionAnswerQuestion(), "/deny", "deny")
    assert not any(texts.URGENT_HEADER in t for t in chat.texts)
    assert not chat.slots.get("money_lost")


def test_codes_given_then_money_gone_gives_the_whole_block_again(real):
    # The stage rose (credentials_given → paid): the bank and the evidence matter more now.
    chat = Conversation()
    chat.say(ActionSelfCheck(), "自称客服的人让我把验证码告诉他，我已经告诉他了", "describe_situation", SERVICE)
    assert chat.texts[0].splitlines()[0] == texts.URGENT_HEADER
    assert chat.slots.get("money_lost") is not True
    chat.say(ActionSelfCheck(), "刚才他又让我转了八千块过去", "describe_situation", SERVICE)
    assert chat.texts[0].splitlines()[0] == texts.URGENT_HEADER
    assert chat.slots["money_lost"] is True


def test_later_turns_of_a_paid_check_lead_with_one_reminder_line(real):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "冒充客服的人说退款，我按他说的转了三千块过去", "describe_situation", SERVICE)
    assert chat.texts[0].splitlines()[0] == texts.URGENT_HEADER
    chat.say(ActionAnswerQuestion(), "/deny", "deny")
    assert chat.texts[0] == texts.MONEY_LOST_FIRST_LINE
    assert not any(texts.URGENT_HEADER in t for t in chat.texts)


def test_typed_near_miss_under_the_report_loss_intent_is_no_loss(real):
    chat = Conversation()
    chat.say(ActionReportLoss(), "他让我转钱，我差点就转了，幸好我女儿拦住了", "report_loss")
    assert not any(texts.URGENT_HEADER in t for t in chat.texts)
    assert not chat.slots.get("money_lost")


def test_the_scammer_on_the_line_gets_hang_up_first(real):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "自称公安局的人现在还在电话上，不让我挂电话", "describe_situation", POLICE)
    first = chat.texts[0].splitlines()
    assert first[0] == texts.HANG_UP_HEADER and first[1].startswith("先挂断")


def test_a_pasted_message_of_several_lines_is_judged_as_one_turn(real):
    # Line by line, "您的订单已付款成功" alone reads as money gone; the turn as written says
    # the resident paid nothing.
    chat = Conversation()
    chat.say(ActionSelfCheck(), "对方发来：您的订单已付款成功\n请点击链接领取退款\n我没点，也没付钱",
             "describe_situation", SERVICE)
    assert not any(texts.URGENT_HEADER in t for t in chat.texts)
    chat.say(ActionAnswerQuestion(), "/deny", "deny")
    assert not any(texts.URGENT_HEADER in t or t in texts.REMINDER_BY_STAGE.values() for t in chat.texts)


def test_the_reminder_of_a_later_turn_keeps_the_named_banks_number(real):
    chat = Conversation()
    chat.say(ActionSelfCheck(), "冒充公安的让我把建设银行卡里的钱转到安全账户，我已经转了两万", "describe_situation", POLICE)
    assert chat.texts[0].splitlines()[0] == texts.URGENT_HEADER
    chat.say(ActionAnswerQuestion(), "/deny", "deny")
    reminder = chat.texts[0].splitlines()
    assert reminder[0] == texts.MONEY_LOST_FIRST_LINE and "95533" in reminder[1]
