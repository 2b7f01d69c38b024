"""The operator console in a real browser (Debian's chromium driven by Playwright).

A real gateway (real knowledge base and verdict engine, a temporary SQLite case store,
a temporary operators file) runs in a background thread against a FAKE Rasa whose
scam-type ranking the tests set; the red flags come from the KB's patterns on the notes
typed.  Screenshots go to reports/screenshots/console-*.png.
"""
from __future__ import annotations

import functools
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from bot.gateway import auth
from bot.gateway.app import GatewayConfig, create_app
from bot.kb import load_kb
from bot.runtime.context import reset_blocklist
from bot.runtime.context import get_extractor as get_pipeline
from tests import live_gateway as live
from tests.fake_rasa import POLICE_RANKING, fake_rasa_app

DESKTOP = {"width": 1366, "height": 900}
PASSWORD = "correct horse battery"
TOKEN = "desk-system-token"
PHONE = "13812345678"
# The KB's pi_medical_card flag alone: 中危 until the operator ticks a question.
MEDICAL = f"老人说接到{PHONE}打来的电话，说她医保卡在外地被盗刷了"
LOST = "老人说已经转了5万元到对方说的安全账户，用的是工商银行的卡"


class Desk(live.LiveGateway):
    """Fake Rasa (with a scam-type ranking the tests set) and the real gateway, live."""

    def __init__(self) -> None:
        self.ranking = dict(POLICE_RANKING)
        super().__init__(self._gateway, rasa_app=fake_rasa_app(ranking=self.ranking), timeout=60)

    @staticmethod
    def _gateway(rasa_url: str) -> web.Application:
        config = GatewayConfig(rasa_url=rasa_url, actions_url=rasa_url, api_tokens=frozenset({TOKEN}))
        return create_app(config, kb=load_kb())

    def rank(self, **probabilities: float) -> None:
        self.ranking.clear()
        self.ranking.update(probabilities)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console")
    operators = tmp / "operators.yml"
    auth.save_operator(operators, "wang", PASSWORD, "王警官", ["operator"])
    auth.save_operator(operators, "zhao", PASSWORD, "赵警官", ["operator", "outreach"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPERATORS_FILE", str(operators))
        mp.setenv("SESSION_SECRET", Fernet.generate_key().decode())
        mp.setenv("CASES_URL", f"sqlite:///{tmp}/cases.db")
        mp.setenv("BLOCKLIST_FILE", str(tmp / "blocklist.csv"))
        mp.delenv("REDIS_URL", raising=False)
        reset_blocklist()
        get_pipeline()  # built once here, not inside the first assessment the page waits for
        s = Desk().start()
        yield s
        s.stop()
        reset_blocklist()


@pytest.fixture(autouse=True)
def police_ranking(request):
    if "stack" in request.fixturenames:
        request.getfixturevalue("stack").rank(**POLICE_RANKING)
    yield


@pytest.fixture(scope="module", autouse=True)
def _expect_timeout():
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)


def new_page(browser, stack):
    page = live.new_page(browser, DESKTOP, timeout_ms=15000, accept_downloads=True)
    live.report_failed_responses(page, lambda url: url.endswith(("/favicon.ico", "/console/login")))
    return page


@pytest.fixture
def page(browser, stack):
    pg = new_page(browser, stack)
    yield pg
    live.close_page(pg, stack.url, stack.url.replace("http", "ws"))


shot = functools.partial(live.shot, prefix="console-")


def log_in(page, stack, username: str = "wang", password: str = PASSWORD) -> None:
    page.goto(stack.url + "/console")
    page.wait_for_url(re.compile(r"/console/login\?next="))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def open_desk(page, stack, username: str = "wang") -> None:
    from playwright.sync_api import expect

    log_in(page, stack, username)
    page.wait_for_url(stack.url + "/console")
    expect(page.locator("#conn-status")).to_have_attribute("data-mode", "live")


# -- the whole desk flow ----------------------------------------------------------------------

def test_desk_type_flags_tick_save_open_export_and_log_out(page, stack):
    from playwright.sync_api import expect

    log_in(page, stack)
    page.wait_for_url(stack.url + "/console")
    expect(page.locator(".console-user")).to_have_text("王警官")
    expect(page.locator("#conn-status")).to_have_attribute("data-mode", "live")  # the websocket is up

    page.select_option("#channel", "phone")
    page.fill("#identity", "自称医保局、又转接警官")
    page.locator("#notes").press_sequentially(MEDICAL, delay=15)
    panel = page.locator("#panel")
    expect(panel).to_have_attribute("data-type", "police_impersonation")
    expect(page.locator("#type-name")).to_have_text("冒充公检法及政府机关（含医保、社保）")
    expect(page.locator("#risk")).to_have_text("中危")
    flag = page.locator("#flags .flag[data-flag=pi_medical_card]")
    expect(flag.locator(".flag-quote")).to_contain_text("医保卡在外地被盗刷")
    mark = page.locator("#mirror mark.hl[data-flags~=pi_medical_card]")
    expect(mark).to_contain_text("医保卡在外地被盗刷")
    assert mark.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 229, 143)"
    expect(page.locator("#mirror .ind")).to_have_text(PHONE)  # the number is underlined as an indicator
    expect(page.locator("#indicators .indicator[data-kind=phone] .ind-value")).to_have_text(PHONE)
    expect(page.locator("#script li").first).to_contain_text("请您先别转账")
    expect(page.locator("#checklist")).to_be_hidden()
    shot(page, "desk")

    question = page.locator(".question[data-question=pi_q_transfer]")
    expect(question.locator(".toggle-unknown")).to_have_attribute("aria-pressed", "true")
    question.locator(".toggle-yes").click()
    expect(page.locator("#risk")).to_have_text("高危")
    expect(panel).to_have_attribute("data-risk", "high")
    expect(page.locator(".question[data-question=pi_q_transfer] .toggle-yes")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#flags .flag[data-flag=pi_q_transfer]")).to_contain_text("您确认了")
    shot(page, "desk-ticked")

    page.click("#save-btn")
    expect(page.locator("#save-result")).to_contain_text("已保存为案件")
    expect(page.locator("#notes")).to_have_value("")  # ready for the next call
    expect(panel).to_have_attribute("data-type", "")
    page.click("#save-result a.case-link")

    page.wait_for_url(re.compile(r"/console/cases/[0-9a-f]{16}$"))
    sheet = page.locator(".case-sheet")
    expect(sheet).to_contain_text("冒充公检法及政府机关")
    expect(sheet).to_contain_text("高危")
    expect(sheet).to_contain_text("138****5678")
    expect(sheet).not_to_contain_text(PHONE)
    expect(sheet).to_contain_text("自称医保局、又转接警官")
    expect(sheet).to_contain_text("对方有没有让您把钱转到“安全账户”")
    shot(page, "case", full_page=True)
    page.emulate_media(media="print")
    shot(page, "case-print", full_page=True)
    assert page.locator(".site-header").is_hidden() and page.locator(".case-actions").is_hidden()
    page.emulate_media(media="screen")

    page.click("#unmask-btn")
    expect(page.locator(".case-sheet")).to_contain_text(PHONE)
    expect(page.locator(".case-sheet")).to_have_attribute("data-unmasked", "1")
    page.click("#mask-link")
    expect(page.locator(".case-sheet")).not_to_contain_text(PHONE)

    with page.expect_download() as download:
        page.click("#pdf-link")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and download.value.suggested_filename.startswith("case-")

    page.click("#logout-btn")
    page.wait_for_url(re.compile(r"/console/login"))
    page.goto(stack.url + "/console/cases")
    page.wait_for_url(re.compile(r"/console/login\?next="))
    expect(page.locator("body")).not_to_contain_text("医保卡")


def test_money_gone_shows_the_urgent_checklist(page, stack):
    from playwright.sync_api import expect

    open_desk(page, stack)
    page.fill("#notes", LOST)
    checklist = page.locator("#checklist")
    expect(checklist).to_be_visible()
    expect(page.locator("#risk")).to_have_text("高危")
    steps = page.locator("#checklist-steps li")
    expect(steps.first).to_contain_text("110")
    expect(steps.nth(1)).to_contain_text("中国工商银行客服 95588")
    expect(page.locator("#evidence")).to_contain_text("转账记录、聊天记录")
    expect(page.locator("#recovery-warning")).to_contain_text("第二次诈骗")
    box = checklist.bounding_box()
    assert box is not None and box["y"] < DESKTOP["height"]  # in sight without scrolling
    shot(page, "money-lost")


def test_without_websockets_the_desk_falls_back_to_fetch(page, stack):
    from playwright.sync_api import expect

    page.add_init_script("window.WebSocket = undefined;")  # a proxy that blocks websockets
    log_in(page, stack)
    page.wait_for_url(stack.url + "/console")
    expect(page.locator("#conn-status")).to_have_attribute("data-mode", "fetch")
    page.fill("#notes", MEDICAL)
    expect(page.locator("#risk")).to_have_text("中危")
    page.locator(".question[data-question=pi_q_transfer] .toggle-yes").click()
    expect(page.locator("#risk")).to_have_text("高危")
    assert any(u.endswith("/console/assess") for u in page.requests)


def test_case_list_search_and_csv(page, stack):
    from playwright.sync_api import expect

    open_desk(page, stack)
    stack.rank(brushing_rebate=0.9, none=0.1)
    page.fill("#notes", "有人让我刷单做任务，先垫付三百元，说马上返佣金")
    expect(page.locator("#panel")).to_have_attribute("data-type", "brushing_rebate")
    page.click("#save-btn")
    expect(page.locator("#save-result")).to_contain_text("已保存为案件")

    page.click("nav >> text=案件记录")
    page.wait_for_url(stack.url + "/console/cases")
    expect(page.locator(".case-table tbody tr").first).to_contain_text("刷单返利")
    page.select_option("select[name=type]", "brushing_rebate")
    page.fill("input[name=q]", "垫付")
    page.click(".case-search button[type=submit]")
    page.wait_for_url(re.compile(r"type=brushing_rebate"))
    expect(page.locator("#case-count")).to_contain_text("共 1 条")
    expect(page.locator(".case-table tbody tr")).to_have_count(1)
    shot(page, "cases")
    with page.expect_download() as download:
        page.click("#csv-link")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.startswith("编号,时间,渠道,类型,风险") and "刷单返利" in text and text.count("\n") == 2


# -- refusals --------------------------------------------------------------------------------------

def test_wrong_password_is_refused(page, stack):
    from playwright.sync_api import expect

    log_in(page, stack, "wang", "not the password")
    expect(page.locator(".alert-error")).to_have_text("用户名或密码不对。")
    assert "/console/login" in page.url
    shot(page, "login-refused")
    page.goto(stack.url + "/console")
    page.wait_for_url(re.compile(r"/console/login\?next="))


def test_cases_api_without_a_token_is_refused(stack):
    def get(headers):
        request = urllib.request.Request(stack.url + "/api/v1/cases", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    assert get({}) == 401
    assert get({"Authorization": "Bearer wrong"}) == 401
    assert get({"Authorization": f"Bearer {TOKEN}"}) == 200


# -- two operators at once ----------------------------------------------------------------------------

def test_two_operators_never_see_each_others_drafts(browser, stack):
    from playwright.sync_api import expect

    wang, zhao = new_page(browser, stack), new_page(browser, stack)
    try:
        open_desk(wang, stack, "wang")
        open_desk(zhao, stack, "zhao")
        wang.fill("#notes", "王的来电：" + MEDICAL)
        zhao.fill("#notes", "赵的来电：有人让我刷单做任务，先垫付三百元")
        expect(wang.locator("#panel")).to_have_attribute("data-type", "police_impersonation")
        wang.locator(".question[data-question=pi_q_video] .toggle-yes").click()
        expect(wang.locator(".question[data-question=pi_q_video] .toggle-yes")).to_have_attribute("aria-pressed", "true")
        # The server has the tick once the verdict it sends back counts it; only then reload.
        expect(wang.locator("#flags .flag[data-flag=pi_q_video]")).to_contain_text("您确认了")
        expect(zhao.locator("#mirror")).to_contain_text("赵的来电")

        # A reload brings back each operator's own draft (notes and ticks), never the other's.
        for pg in (wang, zhao):
            pg.reload()
            expect(pg.locator("#conn-status")).to_have_attribute("data-mode", "live")
        expect(wang.locator("#notes")).to_have_value("王的来电：" + MEDICAL)
        expect(zhao.locator("#notes")).to_have_value("赵的来电：有人让我刷单做任务，先垫付三百元")
        expect(wang.locator(".question[data-question=pi_q_video] .toggle-yes")).to_have_attribute("aria-pressed", "true")
        expect(zhao.locator("#mirror")).not_to_contain_text("王的来电")
        expect(wang.locator("#mirror")).not_to_contain_text("赵的来电")
        assert wang.evaluate("localStorage.length + sessionStorage.length") == 0
        shot(wang, "drafts-wang")
        shot(zhao, "drafts-zhao")
        for pg in (wang, zhao):
            assert not pg.errors, pg.errors
    finally:
        wang.context.close()
        zhao.context.close()
