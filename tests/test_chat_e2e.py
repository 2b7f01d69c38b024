"""End-to-end chat tests of the one urgent rule (issue 11), through the real stack.

The action server, Rasa (models/current.tar.gz) and the gateway run as `make run` starts
them (bot.runtime.stack.commands), on spare ports (or the caller's RASA_PORT / ACTIONS_PORT /
GATEWAY_PORT block), with every store in a temporary folder. Each test talks to
`POST /api/v1/chat` as a new resident.

What is protected: whenever the conversation's loss stage is `paid` or `credentials_given`
the first message of the reply is the urgent steps (110/96110, the bank) — on the first
turn, on the third, after a question — the scammer still on the line gets "先挂断" first,
and a near miss ("差点就转了", "我没有转", "我沒有轉", an earlier genuine purchase) never
gets the urgent block. Every text here was written for this file.
"""
from __future__ import annotations

import json
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from actions import texts
from bot.quality.benchmark import INHERITED_SETTINGS_DROPPED, bench_ports
from bot.runtime import stack as stack_module
from bot.settings import ROOT, Settings

MODEL = ROOT / "models" / "current.tar.gz"
STAGE_MODEL = ROOT / "build" / "stage_model.json"
URGENT = texts.URGENT_HEADER
REMINDERS = tuple(texts.REMINDER_BY_STAGE.values())

pytestmark = pytest.mark.skipif(
    not (MODEL.exists() and STAGE_MODEL.exists()),
    reason="needs a trained Rasa model and build/stage_model.json (make train, make build)",
)


class Stack:
    def __init__(self, base: str) -> None:
        self.base = base

    def chat(self, sender: str, message: str) -> List[Dict]:
        body = json.dumps({"sender": sender, "message": message}).encode()
        request = urllib.request.Request(
            self.base + "/api/v1/chat", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def talk(self, *turns: str) -> List[List[Dict]]:
        """One new resident's conversation; the replies to every turn."""
        sender = f"e2e-{uuid.uuid4().hex[:12]}"
        return [self.chat(sender, turn) for turn in turns]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("e2e-state")
    env = {k: v for k, v in stack_module.environment().items() if k not in INHERITED_SETTINGS_DROPPED}
    env.update({
        "CASES_URL": f"sqlite:///{state / 'cases.db'}",
        "STATS_DB": str(state / "stats.db"),
        "BLOCKLIST_FILE": str(state / "blocklist.csv"),
        "OPERATORS_FILE": str(state / "operators.yml"),
        "API_TOKENS": uuid.uuid4().hex,
    })
    env.update(bench_ports(env))
    settings = Settings.from_env(env)
    logs = {name: (state / f"{name}.log").open("wb") for name in ("actions", "rasa", "gateway")}
    processes = {
        name: subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                               stdout=logs[name], stderr=subprocess.STDOUT)
        for name, cmd in stack_module.commands(settings).items()
    }
    base = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
    started = time.monotonic()
    try:
        while not stack_module.healthy(base + "/healthz"):
            dead = [n for n, p in processes.items() if p.poll() is not None]
            if dead or time.monotonic() - started > max(settings.startup_timeout_s, 300):
                tails = {n: Path(logs[n].name).read_text(errors="replace")[-1500:] for n in processes}
                pytest.fail(f"stack not healthy (exited: {dead}); logs: {tails}")
            time.sleep(0.5)
        yield Stack(base)
    finally:
        stack_module.stop_all(processes)
        for log in logs.values():
            log.close()


# -- helpers -------------------------------------------------------------------------------------


def lines_of(messages: List[Dict]) -> List[str]:
    return [m.get("text") or "" for m in messages]


def urgent_block_first(messages: List[Dict]) -> bool:
    """The reply's first message is the whole urgent block: 110 and the bank in it."""
    first = lines_of(messages)[0] if messages else ""
    return first.startswith(URGENT) and "110" in first and "银行" in first


def urgent_first(messages: List[Dict]) -> bool:
    """The whole block, or (a later turn of the same check) the one-line reminder, leads."""
    first = lines_of(messages)[0] if messages else ""
    return urgent_block_first(messages) or first.startswith(REMINDERS)


def no_urgent(messages: List[Dict]) -> bool:
    said = "\n".join(lines_of(messages))
    return URGENT not in said and not any(r in said for r in REMINDERS)


def verdict_of(messages: List[Dict]) -> Dict:
    for m in messages:
        custom = m.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("verdict"), dict):
            return custom["verdict"]
    return {}


def is_question(message: Dict) -> bool:
    return [b.get("title") for b in message.get("buttons") or []] == ["是", "不是", "不确定"]


# -- money gone on the first turn ----------------------------------------------------------------

PAID_FIRST_TURN = [
    "有个自称社保局的打电话说我卡被冻结，让我把存款转到安全账户，我已经转了三万八",
    "群里的“导师”带着炒币，我前后充了十二万进那个平台，现在提现一直失败",
    "我妈听了保健品讲座，给那个“教授”付了七千六，说能治好她的腿",
    "网上认识的男朋友说他在海外做工程，我借给他两万块，转完他就不回消息了",
    "刷单做任务，前面返了佣金，后面卡单了，我又垫付了九千块进去",
    "冒充快递客服说我的包裹丢了要理赔，我按他说的在借呗借了钱转给他了",
    "儿子在游戏里买装备，对方让他扫码付款，用我的微信付了一千三百块",
    "我奶奶把养老的八万块都投进了那个什么养老公寓项目，现在人找不到了",
    "爸爸接到电话说我出车祸要交手术费，他马上汇了五万过去，我根本没出事",
    "我在二手平台买演唱会门票，付了一千二的定金，卖家就把我拉黑了",
    "我已經把錢轉給那個自稱檢察官的人了，一共轉了十五萬",
    "对方说我贷款卡号填错了要交解冻金，我交了四千五，钱还是没到账",
]


@pytest.mark.parametrize("text", PAID_FIRST_TURN)
def test_money_gone_on_the_first_turn_gets_the_urgent_steps_first(stack, text):
    (reply,) = stack.talk(text)
    assert urgent_block_first(reply), lines_of(reply)


def test_money_gone_with_a_named_bank_gives_that_banks_number(stack):
    (reply,) = stack.talk("冒充公安的让我把农业银行卡里的钱转到他说的账户，我已经转了两万")
    assert urgent_block_first(reply), lines_of(reply)
    assert "95599" in lines_of(reply)[0]


def test_the_urgent_steps_say_keep_the_evidence_and_never_pay_recovery(stack):
    (reply,) = stack.talk("我被网上的投资老师骗了，已经转了六万块过去")
    first = lines_of(reply)[0]
    assert urgent_block_first(reply)
    assert "证据" in first and "追回" in first


# -- money gone later in the check -----------------------------------------------------------------


def test_money_gone_on_the_third_turn_gets_the_urgent_steps_first(stack):
    replies = stack.talk(
        "有人自称京东客服，说我的会员要扣费，要帮我关掉",
        "不是",
        "刚才没说清楚，我已经按他说的转了三千块过去了",
    )
    assert no_urgent(replies[0]) and no_urgent(replies[1])
    assert urgent_block_first(replies[2]), lines_of(replies[2])


def test_money_gone_told_in_the_answer_to_a_question_gets_the_urgent_steps_first(stack):
    replies = stack.talk(
        "一个自称公安局的人打电话，说我涉嫌洗钱，要我配合调查",
        "是的，他让我转到安全账户，我已经转了五万过去了",
    )
    assert no_urgent(replies[0])
    assert urgent_block_first(replies[1]), lines_of(replies[1])


def test_money_gone_after_a_question_comes_before_the_next_question(stack):
    replies = stack.talk(
        "有个老师在群里让家长扫码交资料费",
        "我已经扫码付了三百八十块",
    )
    assert urgent_block_first(replies[1]), lines_of(replies[1])
    questions = [i for i, m in enumerate(replies[1]) if is_question(m)]
    assert all(i > 0 for i in questions)


def test_later_turns_lead_with_a_reminder_not_the_whole_block_again(stack):
    replies = stack.talk(
        "我在网上贷款，对方说要先交保证金，我已经交了两千",
        "不是",
        "不确定",
    )
    assert urgent_block_first(replies[0])
    for reply in replies[1:]:
        first = lines_of(reply)[0]
        assert first.startswith(REMINDERS), first
        assert URGENT not in "\n".join(lines_of(reply))


def test_the_verdict_of_a_paid_check_says_money_lost(stack):
    replies = stack.talk("我在网上贷款，对方说要先交保证金，我已经交了两千", "直接告诉我结果")
    verdict = verdict_of(replies[-1])
    assert verdict.get("stage") == "paid" and verdict.get("money_lost") is True
    assert urgent_first(replies[-1])


# -- a code or password given; the scammer on the line ------------------------------------------

CREDENTIALS_GIVEN = [
    "冒充银行的人说我账户异常，我把手机收到的验证码报给他了",
    "对方让我下载了一个会议软件，还开了屏幕共享给他看我的银行卡页面",
    "他说帮我退款，让我装了个远程控制的软件，我装了",
    "我把银行卡号和密码都告诉那个“客服”了",
]


@pytest.mark.parametrize("text", CREDENTIALS_GIVEN)
def test_a_code_or_screen_given_gets_the_urgent_steps_first(stack, text):
    (reply,) = stack.talk(text)
    assert urgent_block_first(reply), lines_of(reply)


def test_a_code_given_then_money_gone_gives_the_whole_block_again(stack):
    replies = stack.talk(
        "冒充支付宝客服的人说我的花呗要关闭，我把验证码告诉他了",
        "后来他又让我转了一万块到他说的账户，我也转了",
    )
    assert urgent_block_first(replies[0])
    assert urgent_block_first(replies[1]), lines_of(replies[1])


ON_THE_CALL = [
    "自称检察院的人现在还在电话上，不让我挂，让我去银行",
    "那个客服正在微信视频里等着我操作，我要不要听他的",
    "他一直在电话里催我，说不能挂断，不然就要抓我",
]


@pytest.mark.parametrize("text", ON_THE_CALL)
def test_the_scammer_still_on_the_line_gets_hang_up_first(stack, text):
    (reply,) = stack.talk(text)
    first = lines_of(reply)[0]
    assert first.startswith(texts.HANG_UP_HEADER) and "挂断" in first, lines_of(reply)
    assert URGENT not in "\n".join(lines_of(reply))


# -- near misses: never the urgent block --------------------------------------------------------

NEAR_MISSES = [
    "差点就转了",
    "我没有转",
    "我沒有轉",
    "他让我转五千块到安全账户，我差点就转了，后来打了96110",
    "客服让我在借呗借钱转给他，我没有转，直接挂了",
    "對方叫我交保證金，我沒有轉，把他拉黑了",
    "我正准备去银行汇款，被柜员拦下来了，钱没汇出去",
    "他要我报验证码，我没告诉他",
    "那个投资群让我充值，我还没充，想先问问",
    "上个月我在淘宝买了一件羽绒服，今天有人说是淘宝客服，要给我退款",
    "去年我在官方旗舰店买过一台空调，现在有人打电话说空调要召回，让我加微信",
    "我给我儿子转了生活费，后来有人冒充他发消息找我借钱，我打电话问了儿子，是假的，没转",
    "我妈本来想给那个专家转钱买药，我及时拦住了，一分钱没给",
    "刚要付款的时候我觉得不对，就没付",
    "他发来一张截图：“您已成功转账20000元”\n说是他那边先打给我了，让我退回去\n我没退，先来问问",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_a_near_miss_never_gets_the_urgent_block(stack, text):
    (reply,) = stack.talk(text)
    assert no_urgent(reply), lines_of(reply)
    verdict = verdict_of(reply)
    assert verdict.get("money_lost", False) is False


def test_a_near_miss_on_a_later_turn_never_gets_the_urgent_block(stack):
    replies = stack.talk("有人自称是我领导，用新微信让我帮忙转一笔钱给客户", "我差点就转了，还好先打电话问了领导本人")
    for reply in replies:
        assert no_urgent(reply), lines_of(reply)
