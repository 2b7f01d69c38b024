"""The operator console (bot.gateway.console) over HTTP and websocket, with a fake Rasa.

The real gateway app, the real knowledge base and verdict engine, a temporary SQLite
case store, a temporary operators file and blocklist; only Rasa's NLU is faked
(a fixed ranking), so the KB's red flags decide what is found in the notes.
"""
from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
from pathlib import Path

import aiohttp
import pytest
from cryptography.fernet import Fernet

from bot.gateway import auth
from bot.gateway.app import GatewayConfig, create_app
from bot.gateway.console import CaseFilters, DraftStore, Draft, parse_filters
from bot.gateway.console.view import checklist_view
from bot.kb import assess, loss_steps
from bot.runtime.context import get_blocklist, reset_blocklist
from tests.fake_rasa import POLICE_RANKING, fake_rasa_app

PASSWORD = "correct horse battery"
TOKEN = "desk-system-token"
# Triggers the KB's pi_medical_card red flag only: medium risk until a question is ticked.
MEDICAL = "老人说接到电话，说她医保卡在外地被盗刷了"
PHONE = "13812345678"
LOST = f"对方自称警官，电话{PHONE}，老人已经转了5万元到安全账户，用的是工商银行的卡"


@pytest.fixture(scope="module")
def operators(tmp_path_factory) -> Path:
    """Made once: an argon2 hash takes a third of a second."""
    path = tmp_path_factory.mktemp("accounts") / "operators.yml"
    auth.save_operator(path, "wang", PASSWORD, "王警官", ["operator"])
    auth.save_operator(path, "zhao", PASSWORD, "赵警官", ["operator", "outreach"])
    auth.save_operator(path, "li", PASSWORD, "李社工", ["outreach"])
    return path


@pytest.fixture
def env(tmp_path: Path, operators: Path, monkeypatch):
    monkeypatch.setenv("OPERATORS_FILE", str(operators))
    monkeypatch.setenv("SESSION_SECRET", Fernet.generate_key().decode())
    monkeypatch.setenv("CASES_URL", f"sqlite:///{tmp_path}/cases.db")
    monkeypatch.setenv("BLOCKLIST_FILE", str(tmp_path / "blocklist.csv"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    reset_blocklist()
    yield tmp_path
    reset_blocklist()


@pytest.fixture
def ranking():
    """What the fake NLU answers for every text; tests change it in place."""
    return dict(POLICE_RANKING)


def rank(ranking, **probabilities):
    ranking.clear()
    ranking.update(probabilities)


@pytest.fixture
async def server(env, real_kb, ranking, aiohttp_server):
    rasa = await aiohttp_server(fake_rasa_app(ranking=ranking))
    config = GatewayConfig(rasa_url=str(rasa.make_url("")).rstrip("/"),
                           actions_url=str(rasa.make_url("")).rstrip("/"), api_tokens=frozenset({TOKEN}))
    return await aiohttp_server(create_app(config, kb=real_kb))


@pytest.fixture
async def anon(server, aiohttp_client):
    return await aiohttp_client(server)


async def login(aiohttp_client, server, username="wang"):
    client = await aiohttp_client(server)
    resp = await client.post("/console/login", data={"username": username, "password": PASSWORD, "next": "/console"},
                             allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/console"
    return client


@pytest.fixture
async def wang(server, aiohttp_client):
    return await login(aiohttp_client, server, "wang")


async def assess_ws(client, **draft):
    async with client.ws_connect("/console/ws") as ws:
        await ws.send_json({"seq": 1, **draft})
        reply = await ws.receive_json(timeout=30)
    assert reply["type"] == "verdict" and reply["seq"] == 1, reply
    return reply["view"]


async def save(client, notes, **extra):
    resp = await client.post("/console/cases", json={"notes": notes, **extra})
    assert resp.status == 201, await resp.text()
    return await resp.json()


# -- who may see what -----------------------------------------------------------------------

PROTECTED = [
    ("GET", "/console"), ("GET", "/console/cases"), ("GET", "/console/cases.csv"),
    ("GET", "/console/cases/0123456789abcdef"), ("GET", "/console/cases/0123456789abcdef.pdf"),
    ("POST", "/console/assess"), ("POST", "/console/cases"), ("POST", "/console/cases/0123456789abcdef/unmask"),
]


@pytest.mark.parametrize("method, path", PROTECTED)
async def test_every_console_route_needs_a_login(anon, method, path):
    html = await anon.request(method, path, headers={"Accept": "text/html"}, allow_redirects=False)
    if method == "GET":
        assert html.status == 302 and html.headers["Location"].startswith("/console/login?next=")
    else:
        assert html.status == 401
    api = await anon.request(method, path, json={"notes": MEDICAL}, allow_redirects=False)
    assert api.status == 401 and (await api.json()) == {"error": "login required"}


async def test_websocket_handshake_needs_a_login(anon):
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await anon.ws_connect("/console/ws")
    assert err.value.status == 401


async def test_login_page_never_shows_data_and_unknown_role_is_refused(server, aiohttp_client, wang):
    await save(wang, MEDICAL)
    anon = await aiohttp_client(server)
    page = await anon.get("/console/cases", headers={"Accept": "text/html"})  # follows to the login page
    text = await page.text()
    assert page.url.path == "/console/login" and "医保卡" not in text
    outreach_only = await login(aiohttp_client, server, "li")
    resp = await outreach_only.get("/console/cases", allow_redirects=False)
    assert resp.status == 403 and "operator" in (await resp.json())["error"]


async def test_wrong_password_is_refused_then_throttled(anon):
    form = {"username": "wang", "password": "not the password", "next": "/console"}
    for _ in range(5):
        resp = await anon.post("/console/login", data=form, allow_redirects=False)
        assert resp.status == 401 and "用户名或密码不对" in await resp.text()
    # Throttled now: even the right password waits.
    resp = await anon.post("/console/login", data={**form, "password": PASSWORD}, allow_redirects=False)
    assert resp.status == 429 and "尝试次数太多" in await resp.text()
    assert (await anon.get("/console", allow_redirects=False)).status in (302, 401)


async def test_cross_site_websocket_and_posts_are_refused(wang):
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await wang.ws_connect("/console/ws", origin="http://evil.example")
    assert err.value.status == 403
    resp = await wang.post("/console/cases", json={"notes": MEDICAL}, headers={"Origin": "http://evil.example"})
    assert resp.status == 403


async def test_case_api_still_wants_its_token(wang):
    resp = await wang.get("/api/v1/cases")  # a console login is not an API token
    assert resp.status == 401
    resp = await wang.get("/api/v1/cases", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 200


# -- the desk ----------------------------------------------------------------------------------

async def test_desk_page_loads_its_assets_under_the_csp(wang):
    resp = await wang.get("/console", headers={"Accept": "text/html"})
    html = await resp.text()
    assert resp.status == 200 and 'id="notes"' in html and "王警官" in html
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert not re.search(r"<script>(?!</script>)|\son\w+=|style=", html)  # no inline code or styles
    for href in ("/console", "/console/cases", "/outreach", "/console/logout"):
        assert f'"{href}"' in html
    for asset in ("/site/console.js", "/site/console.css"):
        assert (await wang.get(asset)).status == 200


async def test_live_assessment_finds_type_flags_questions_and_updates_on_a_tick(wang):
    view = await assess_ws(wang, notes=MEDICAL)
    assert view["type"]["id"] == "police_impersonation" and view["risk"] == {"level": "medium", "label": "中危"}
    # The flags agree with the classifier: a confident type, any alternative far behind.
    assert view["type"]["confidence"] >= 0.85 and all(a["confidence"] < 0.1 for a in view["alternatives"])
    flag = next(f for f in view["red_flags"] if f["id"] == "pi_medical_card")
    assert "医保卡在外地被盗刷" in flag["quote"]
    marked = [s for s in view["mirror"] if "pi_medical_card" in s["flags"]]
    assert marked and "医保卡在外地被盗刷" in marked[0]["text"]
    assert "".join(s["text"] for s in view["mirror"]) == MEDICAL
    states = {q["id"]: q["state"] for q in view["questions"]}
    assert states["pi_q_transfer"] == "open"
    assert view["script"][0].startswith("您好，我是反诈专线")
    assert view["checklist"] is None

    ticked = await assess_ws(wang, notes=MEDICAL, answers={"pi_q_transfer": True})
    assert ticked["risk"]["level"] == "high"
    assert {q["id"]: q["state"] for q in ticked["questions"]}["pi_q_transfer"] == "yes"


async def test_close_calls_show_the_alternatives_with_their_names(wang, ranking):
    rank(ranking, customer_service_impersonation=0.5, fake_shopping=0.4, none=0.1)
    view = await assess_ws(wang, notes="说我买的东西有质量问题要退款")
    assert view["type"]["id"] == "customer_service_impersonation"
    assert [(a["id"], a["name"]) for a in view["alternatives"]][:1] == [("fake_shopping", "虚假购物")]


async def test_websocket_answers_in_order_and_reports_bad_input_without_closing(wang):
    async with wang.ws_connect("/console/ws") as ws:
        await ws.send_str("not json")
        assert (await ws.receive_json())["status"] == 400
        await ws.send_json({"seq": 2, "notes": MEDICAL, "answers": {"no_such_question": True}})
        bad = await ws.receive_json()
        assert bad == {"type": "error", "seq": 2, "status": 400, "error": "answers: unknown question id 'no_such_question'"}
        await ws.send_json({"seq": 3, "notes": "x" * 5001})
        assert (await ws.receive_json())["status"] == 413
        await ws.send_json({"seq": 4, "notes": "   "})
        assert await ws.receive_json() == {"type": "verdict", "seq": 4, "view": None}


async def test_an_open_websocket_ends_with_the_session(env, real_kb, aiohttp_server, aiohttp_client, monkeypatch):
    monkeypatch.setenv("SESSION_MAX_AGE", "2")
    rasa = await aiohttp_server(fake_rasa_app())
    url = str(rasa.make_url("")).rstrip("/")
    server = await aiohttp_server(create_app(GatewayConfig(rasa_url=url, actions_url=url), kb=real_kb))
    client = await login(aiohttp_client, server)
    async with client.ws_connect("/console/ws") as ws:
        await ws.send_json({"seq": 1, "notes": MEDICAL})
        assert (await ws.receive_json())["type"] == "verdict"
        await asyncio.sleep(2.2)
        await ws.send_json({"seq": 2, "notes": MEDICAL})
        assert await ws.receive_json() == {"type": "expired"}
        assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE and ws.close_code == 4401


async def test_fetch_fallback_gives_the_same_view(wang):
    by_socket = await assess_ws(wang, notes=MEDICAL, channel="walk_in")
    resp = await wang.post("/console/assess", json={"notes": MEDICAL, "channel": "walk_in"})
    assert resp.status == 200 and (await resp.json())["view"] == by_socket
    for body, status in (({"notes": 5}, 400), ({"notes": MEDICAL, "channel": "fax"}, 400),
                         ({"notes": MEDICAL, "answers": {"pi_q_video": "yes"}}, 400)):
        resp = await wang.post("/console/assess", json=body)
        assert resp.status == status and "error" in await resp.json()


async def test_money_gone_brings_the_urgent_checklist_with_the_bank_number(wang):
    view = await assess_ws(wang, notes=LOST)
    assert view["money_lost"] and view["risk"]["level"] == "high"
    checklist = view["checklist"]
    assert "110" in checklist["steps"][0]
    assert "中国工商银行" in checklist["steps"][1] and "95588" in checklist["steps"][1]
    assert {"转账记录", "聊天记录", "截图"} <= set(checklist["evidence"])
    assert "第二次诈骗" in checklist["warning"]
    amounts = [i for i in view["indicators"] if i["kind"] == "amount"]
    assert amounts and "5万" in amounts[0]["value"]


def loss_checklist(kb, notes):
    """The desk's checklist for notes that say money is gone (one verdict, one LossSteps)."""
    return checklist_view(loss_steps(kb, assess(kb, notes)))


def test_checklist_without_a_named_bank_gives_the_general_bank_advice(real_kb):
    checklist = loss_checklist(real_kb, "已经转了两万")
    assert checklist["banks"] == [] and "95 开头" in checklist["steps"][1]


async def test_blocklisted_number_is_marked_on_the_desk(wang):
    get_blocklist().add("block", "phone", "13912345678", "冒充公安")
    view = await assess_ws(wang, notes="有个号码13912345678打来说我涉嫌洗钱")
    phone = next(i for i in view["indicators"] if i["kind"] == "phone")
    assert phone["list"] == "block" and phone["note"] == "冒充公安"
    assert any(f["id"] == "ind_reported" for f in view["red_flags"])
    official = await assess_ws(wang, notes="95588打来电话说我的卡有问题")
    assert [i["list"] for i in official["indicators"] if i["kind"] == "phone"] == ["allow"]


# -- drafts --------------------------------------------------------------------------------------

async def test_drafts_stay_in_their_own_session(server, aiohttp_client, wang):
    zhao = await login(aiohttp_client, server, "zhao")
    await (await wang.get("/console")).text()  # the desk page gives the session its draft key
    await (await zhao.get("/console")).text()
    await assess_ws(wang, notes="王的草稿：医保卡被盗刷", answers={"pi_q_video": True})
    await assess_ws(zhao, notes="赵的草稿：刷单返利")
    wang_page, zhao_page = await (await wang.get("/console")).text(), await (await zhao.get("/console")).text()
    assert "王的草稿" in wang_page and "pi_q_video" in wang_page and "赵的草稿" not in wang_page
    assert "赵的草稿" in zhao_page and "王的草稿" not in zhao_page
    # The same operator logged in elsewhere (a new session) starts from nothing.
    wang_elsewhere = await login(aiohttp_client, server, "wang")
    assert "王的草稿" not in await (await wang_elsewhere.get("/console")).text()
    # Saving the case forgets the draft.
    await save(wang, "王的草稿：医保卡被盗刷")
    assert "王的草稿" not in await (await wang.get("/console")).text()


def test_draft_store_forgets_idle_and_excess_drafts(monkeypatch):
    store = DraftStore(max_age=60, max_drafts=2)
    for user in ("a", "b", "c"):
        store.put((user, "t"), Draft(notes=user))
    assert store.get(("a", "t")) is None and store.get(("c", "t")).notes == "c"
    clock = [1000.0]
    monkeypatch.setattr("bot.gateway.console.desk.time.monotonic", lambda: clock[0])
    store.put(("d", "t"), Draft(notes="d"))
    clock[0] += 61
    assert store.get(("d", "t")) is None


# -- case records ---------------------------------------------------------------------------------

async def test_saved_case_is_listed_searched_and_masked(wang, ranking):
    saved = await save(wang, LOST, channel="phone", claimed_identity="自称王警官", answers={"pi_q_video": True})
    rank(ranking, brushing_rebate=0.9, none=0.1)
    await save(wang, "有人让我刷单做任务，先垫付三百元")
    assert saved["url"] == f"/console/cases/{saved['id']}"
    page = await (await wang.get("/console/cases")).text()
    assert "共 2 条" in page and "138****5678" in page and PHONE not in page
    by_type = await (await wang.get("/console/cases?type=police_impersonation")).text()
    assert "共 1 条" in by_type and saved["id"] in by_type
    by_text = await (await wang.get("/console/cases", params={"q": "刷单"})).text()
    assert "共 1 条" in by_text and saved["id"] not in by_text and "刷单返利" in by_text
    bad = await wang.get("/console/cases?since=yesterday&type=nope&page=x")
    text = await bad.text()
    assert bad.status == 200 and "不是日期" in text and "没有这个诈骗类型" in text and "共 2 条" in text


async def test_case_list_pages(wang, monkeypatch):
    monkeypatch.setattr("bot.gateway.console.cases.PAGE_SIZE", 2)
    for i in range(3):
        await save(wang, f"第{i}个来电：医保卡被盗刷")
    first = await (await wang.get("/console/cases")).text()
    assert "第 1 / 2 页" in first and "第2个来电" in first and "第0个来电" not in first
    assert 'rel="next" href="/console/cases?page=2"' in first
    second = await (await wang.get("/console/cases?page=2")).text()
    assert "第0个来电" in second and 'rel="prev"' in second


def test_filters_keep_their_query_string(real_kb):
    filters = parse_filters({"since": "2024-05-02", "until": "2024-05-01", "type": "fake_loan", "q": "网贷"}, real_kb)
    assert (filters.since.isoformat(), filters.until.isoformat()) == ("2024-05-01", "2024-05-02")
    assert filters.query_string(page=3) == "since=2024-05-01&until=2024-05-02&type=fake_loan&q=%E7%BD%91%E8%B4%B7&page=3"
    assert CaseFilters().query_string() == ""


async def test_case_page_is_masked_until_unmasked_on_purpose_and_that_is_logged(wang, caplog):
    saved = await save(wang, LOST, claimed_identity="自称王警官")
    page = await (await wang.get(saved["url"])).text()
    assert "138****5678" in page and PHONE not in page
    assert "冒充公检法" in page and "高危" in page and "5万" in page and "自称王警官" in page
    assert "显示完整信息" in page
    with caplog.at_level(logging.INFO, logger="bot.gateway.console.audit"):
        resp = await wang.post(saved["url"] + "/unmask")
    full = await resp.text()
    assert resp.status == 200 and PHONE in full and "遮盖个人信息" in full
    assert resp.headers["Cache-Control"] == "no-store"
    audit = [r.getMessage() for r in caplog.records if r.name == "bot.gateway.console.audit"]
    assert audit == [f"operator wang unmasked case {saved['id']}"]
    # For that view only: the next plain visit is masked again.
    assert PHONE not in await (await wang.get(saved["url"])).text()
    assert (await wang.get("/console/cases/ffffffffffffffff")).status == 404


async def test_pdf_is_a_chinese_case_summary_masked_unless_asked(wang, caplog):
    from pypdf import PdfReader

    saved = await save(wang, LOST, claimed_identity="自称王警官")
    resp = await wang.get(saved["url"] + ".pdf")
    body = await resp.read()
    assert resp.status == 200 and resp.content_type == "application/pdf" and body.startswith(b"%PDF")
    assert f'filename="case-{saved["id"]}.pdf"' in resp.headers["Content-Disposition"]
    reader = PdfReader(io.BytesIO(body))
    assert len(reader.pages) == 1  # one page to hand to the 报案 desk
    text = reader.pages[0].extract_text()
    for words in ("反诈接警记录", "冒充公检法", "高危", "138****5678", "110"):
        assert words in text, words
    assert PHONE not in text
    fonts = {str(f) for page in reader.pages for f in page["/Resources"]["/Font"].values()}
    assert fonts  # the CJK font is embedded, not left to the reader's machine
    with caplog.at_level(logging.INFO, logger="bot.gateway.console.audit"):
        full = await (await wang.get(saved["url"] + ".pdf?unmask=1")).read()
    assert PHONE in PdfReader(io.BytesIO(full)).pages[0].extract_text()
    assert f"operator wang unmasked case {saved['id']}" in caplog.text


async def test_csv_export_is_masked_and_safe_for_spreadsheets(wang):
    await save(wang, f"=HYPERLINK(\"x\") 电话{PHONE} 医保卡被盗刷")
    resp = await wang.get("/console/cases.csv?type=police_impersonation")
    raw = await resp.read()
    assert resp.status == 200 and resp.content_type == "text/csv" and raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[:5] == ["编号", "时间", "渠道", "类型", "风险"] and len(rows) == 1
    assert PHONE not in text and "138****5678" in rows[0][-1]
    assert rows[0][-1].startswith("'=HYPERLINK")  # a spreadsheet shows it, never runs it


def test_console_sources_build_no_html_from_data_and_use_no_cdn():
    site = Path(__file__).resolve().parent.parent / "bot" / "gateway" / "static" / "site"
    for name in ("console.js", "console.css"):
        code = re.sub(r"/\*.*?\*/", "", (site / name).read_text(encoding="utf-8"), flags=re.S)
        assert not re.search(r"https?://|//cdn|@import", code), name
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|localStorage", code), name


async def test_codes_given_bring_the_urgent_checklist_with_its_own_title(wang):
    view = await assess_ws(wang, notes="来电人说冒充银行的人让她报验证码，她已经把验证码告诉对方了")
    assert view["stage"] == "credentials_given" and not view["money_lost"]
    checklist = view["checklist"]
    assert "验证码" in checklist["title"] and "110" in checklist["steps"][0]


async def test_the_scammer_on_the_line_brings_hang_up_first_and_no_loss_checklist(wang):
    view = await assess_ws(wang, notes="来电人说冒充公安的人现在还在电话上，不让她挂断")
    assert view["stage"] == "on_the_call"
    assert "挂断" in view["checklist"]["title"] and view["checklist"]["steps"] == []


async def test_a_near_miss_brings_no_checklist(wang):
    view = await assess_ws(wang, notes="来电人说对方让她转五千到安全账户，她差点就转了，被女儿拦住")
    assert view["stage"] not in ("paid", "credentials_given") and view["checklist"] is None
