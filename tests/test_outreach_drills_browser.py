"""The quiz and drill pages (/outreach/quiz, /outreach/simulate): their JSON API, then a
real browser (Debian's chromium via Playwright) playing a quiz and a drill to the end.

No Rasa is needed: the pages call bot.outreach through the gateway only. Screenshots go
to reports/screenshots/outreach-*.png.
"""
from __future__ import annotations

import functools
import re

import pytest

from bot.gateway.app import GatewayConfig, create_app
from bot.outreach.quiz import default_quiz_bank
from bot.outreach.simulation import default_simulations
from tests import live_gateway as live
from tests.live_gateway import DEAD_URL as DEAD  # no Rasa: these pages never need it
from tests.live_gateway import PHONE, ROOT

SITE = ROOT / "bot" / "gateway" / "static" / "site"


# -- the JSON API -----------------------------------------------------------------------------

@pytest.fixture
async def client(aiohttp_client, real_kb):
    return await aiohttp_client(create_app(GatewayConfig(DEAD, DEAD), kb=real_kb))


async def test_quiz_api_plays_to_the_end_and_links_a_card(client):
    bank = default_quiz_bank()
    res = await client.get("/outreach/api/quiz/audiences")
    assert {a["id"] for a in (await res.json())["audiences"]} == {"elderly", "parents", "students", "all"}
    res = await client.post("/outreach/api/quiz/start", json={"audience": "elderly", "count": 3})
    data = await res.json()
    assert res.status == 200 and data["question"]["number"] == 1 and data["total"] == 3
    assert "answer" not in data["question"]
    for _ in range(3):
        question = bank.question(data["question"]["id"])
        res = await client.post("/outreach/api/quiz/answer", json={"state": data["state"], "choice": question.answer})
        data = await res.json()
        assert res.status == 200 and data["answer"]["correct"] is True
        assert data["answer"]["explanation"]["tip"]
    card = data["card"]
    assert data["question"] is None and (card["score"], card["total"], card["level"]) == (3, 3, "反诈达人")
    page = await client.get(card["url"])
    html = await page.text()
    assert page.status == 200 and "3 / 3" in html and "反诈达人" in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path, body, status", [
    ("/outreach/api/quiz/start", {}, 400),
    ("/outreach/api/quiz/start", {"audience": "martians"}, 400),
    ("/outreach/api/quiz/start", {"audience": "elderly", "count": 500}, 400),
    ("/outreach/api/quiz/start", {"audience": "elderly", "count": "ten"}, 400),
    ("/outreach/api/quiz/answer", {"state": {"audience": "elderly"}, "choice": "a"}, 400),
    ("/outreach/api/quiz/answer", {"state": None, "choice": "a"}, 400),
    ("/outreach/api/quiz/answer", {"choice": "z"}, 400),
    ("/outreach/api/simulate/start", {"type": "romance_scam"}, 400),
    ("/outreach/api/simulate/start", {"type": 3}, 400),
    ("/outreach/api/simulate/reply", {"state": {"type": "fan_scam", "step": 0, "safe": 0, "replies": []}}, 400),
    ("/outreach/api/simulate/reply", {"state": {"type": "fan_scam", "step": 0, "safe": 0, "replies": []}, "choice": 9}, 400),
    ("/outreach/api/simulate/reply", {"state": {"type": "fan_scam", "step": 0, "safe": 0, "replies": []}, "choice": True}, 400),
    ("/outreach/api/simulate/reply", {"state": {"type": "fan_scam", "step": 0, "safe": 0, "replies": []}, "text": "好" * 501}, 413),
    ("/outreach/api/simulate/reply", {"state": "nope", "text": "挂了"}, 400),
])
async def test_bad_input_gets_a_json_error(client, path, body, status):
    res = await client.post(path, json=body)
    assert res.status == status and "error" in await res.json()


async def test_bad_json_and_bad_card_links(client):
    res = await client.post("/outreach/api/quiz/start", data=b"{not json", headers={"Content-Type": "application/json"})
    assert res.status == 400 and "error" in await res.json()
    for query in ["", "?a=elderly&s=11&n=10&d=2026-01-01", "?a=x&s=1&n=10&d=2026-01-01",
                  "?a=elderly&s=1&n=10&d=yesterday", "?a=elderly&s=1&n=10&d=2026-01-01&t=none"]:
        res = await client.get("/outreach/quiz/card" + query)
        assert res.status == 400 and "链接不完整" in await res.text(), query


async def test_drill_api_masks_typed_numbers_and_ends_with_advice(client, real_kb):
    library = default_simulations()
    res = await client.get("/outreach/api/simulations")
    assert len((await res.json())["drills"]) == len(library.scripts)
    res = await client.post("/outreach/api/simulate/start", json={"type": "pension_scam"})
    data = await res.json()
    assert "演练" in data["intro"] and data["step"]["number"] == 1
    assert all("safe" not in o for o in data["step"]["options"])
    res = await client.post("/outreach/api/simulate/reply", json={"state": data["state"], "text": "我电话13812345678"})
    data = await res.json()
    assert data["reply"]["personal_data"] and "13812345678" not in data["said"] and "138" in data["said"]
    steps = library.scripts["pension_scam"].steps
    while data["result"] is None:
        safe = next(i for i, o in enumerate(steps[data["step"]["number"] - 1].options) if o.safe)
        res = await client.post("/outreach/api/simulate/reply", json={"state": data["state"], "choice": safe + 1})
        data = await res.json()
        assert res.status == 200 and data["reply"]["verdict"] == "safe"
    assert data["result"]["do_now"] == real_kb.scam_types["pension_scam"].advice.do_now
    assert data["result"]["score"] == data["result"]["total"] - 1


def test_page_scripts_use_no_cdn_and_no_html_injection():
    for name in ("drills-common.js", "quiz.js", "simulate.js", "drills.css"):
        code = re.sub(r"/\*.*?\*/", "", (SITE / name).read_text(encoding="utf-8"), flags=re.S)
        assert not re.search(r"https?://|//cdn|@import", code), name
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", code), name


# -- in a browser ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gateway():
    g = live.LiveGateway(lambda rasa_url: create_app(GatewayConfig(rasa_url, rasa_url))).start()
    yield g
    g.stop()


@pytest.fixture
def page(browser, gateway):
    pg = live.new_page(browser, PHONE, device_scale_factor=2)
    live.report_failed_responses(pg)  # every request the page makes works
    yield pg
    live.close_page(pg)


shot = functools.partial(live.shot, prefix="outreach-", full_page=True)


def test_a_quiz_in_the_browser_to_the_result_card(page, gateway):
    bank = default_quiz_bank()
    page.goto(gateway.url + "/outreach/quiz")
    shot(page, "quiz-start")
    page.click("[data-audience=elderly]")
    right = 0
    for number in range(1, 11):
        page.wait_for_selector(f"#quiz-progress:has-text('第 {number}/10 题')")
        scene = page.text_content("#quiz-scene")
        question = next(q for q in bank.by_id.values() if q.scene == scene)
        # right answers except on questions 4 and 7
        choice = question.answer if number not in (4, 7) else "abcd"[(question.answer_index + 1) % len(question.options)]
        page.click(f"#quiz-options [data-choice={choice}]")
        page.wait_for_selector("#quiz-feedback:not([hidden])")
        verdict = page.text_content("#quiz-verdict")
        assert verdict.startswith("✔" if number not in (4, 7) else "✘"), verdict
        assert "怎么核实" in page.text_content("#quiz-explain")
        right += number not in (4, 7)
        if number == 4:
            shot(page, "quiz-feedback")
        page.click("#quiz-next")
    page.wait_for_selector("#quiz-result:not([hidden])")
    assert page.text_content("#card-score") == f"{right} / 10"
    assert page.text_content("#card-level") == "还需留心"
    shot(page, "quiz-result")
    page.click("#quiz-share")
    page.wait_for_url(re.compile(r"/outreach/quiz/card\?"))
    assert "8 / 10" in page.text_content(".shared-card")
    shot(page, "quiz-card")


def _click_safe_reply(page, step) -> None:
    text = next(o.text for o in step.options if o.safe)
    page.locator("#sim-options button", has_text=text).first.click()


def test_a_drill_in_the_browser_to_the_end(page, gateway):
    steps = default_simulations().scripts["police_impersonation"].steps
    page.goto(gateway.url + "/outreach/simulate")
    shot(page, "simulate-menu")
    page.click("[data-type=police_impersonation]")
    page.wait_for_selector("#sim-progress:has-text('第 1/5 步')")
    assert "演练" in page.text_content("#sim-intro")
    shot(page, "simulate-step")
    _click_safe_reply(page, steps[0])
    page.wait_for_selector("#sim-feedback:not([hidden])")
    assert page.text_content("#sim-verdict").startswith("✔")
    assert "医保卡" in page.text_content("#sim-flag")
    shot(page, "simulate-feedback")
    page.click("#sim-next")
    # own words with a phone number: a warning, and the number is not shown back
    page.fill("#sim-text", "我的手机号是13812345678")
    page.click("#sim-form button")
    page.wait_for_selector("#sim-feedback:not([hidden])")
    assert "不要输入真实" in page.text_content("#sim-feedback-text")
    assert "13812345678" not in page.text_content("#sim-dialog")
    page.click("#sim-next")
    page.fill("#sim-text", "我不知道")
    page.click("#sim-form button")
    page.wait_for_selector("#sim-verdict:has-text('拿不准')")
    page.click("#sim-next")
    page.fill("#sim-text", "我要先问问我儿子")
    page.click("#sim-form button")
    page.wait_for_selector("#sim-verdict:has-text('✔ 安全')")
    shot(page, "simulate-own-words")
    for step in steps[3:]:
        page.click("#sim-next")
        page.wait_for_selector("#sim-answer:not([hidden])")
        _click_safe_reply(page, step)
        page.wait_for_selector("#sim-feedback:not([hidden])")
    page.click("#sim-next")
    page.wait_for_selector("#sim-result:not([hidden])")
    assert page.text_content("#sim-score").startswith("4 / 5")
    assert "挂断电话" in page.text_content("#sim-do-now") and "110" in page.text_content("#sim-hotlines")
    shot(page, "simulate-result")
