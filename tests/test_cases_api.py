"""/api/v1/cases (DESIGN contract): bearer token, 201 + Location, masked output, listing,
filters, paging, 404 and every kind of bad input as a JSON 4xx — against the fake Rasa,
with a temporary SQLite store (CASES_URL)."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from bot.gateway.app import GatewayConfig, create_app
from bot.gateway.cases_api import CASE_STORE_KEY, save_case
from tests.fake_rasa import POLICE_RANKING

TOKEN = "desk-token-1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PHONE = "13812345678"
SHOP_RANKING = {"customer_service_impersonation": 0.8, "police_impersonation": 0.1, "none": 0.1}


def rasa_ranking_by_keyword() -> web.Application:
    """A fake Rasa NLU that ranks 客服 texts as customer-service scams, the rest as police ones."""

    async def parse(request: web.Request) -> web.Response:
        text = (await request.json())["text"]
        ranking = SHOP_RANKING if "客服" in text else POLICE_RANKING
        return web.json_response({"text": text, "intent": {"name": "describe_situation"}, "entities": [],
                                  "scam_ranking": ranking})

    app = web.Application()
    app.router.add_post("/model/parse", parse)
    return app


@pytest.fixture
async def app_and_client(aiohttp_client, aiohttp_server, mini_kb, tmp_path, monkeypatch):
    monkeypatch.setenv("CASES_URL", f"sqlite:///{tmp_path}/cases.db")
    monkeypatch.setenv("OPERATORS_FILE", str(tmp_path / "operators.yml"))
    rasa = await aiohttp_server(rasa_ranking_by_keyword())
    url = str(rasa.make_url("")).rstrip("/")
    app = create_app(GatewayConfig(url, url, api_tokens=frozenset({TOKEN, "other-token"})), kb=mini_kb)
    return app, await aiohttp_client(app)


@pytest.fixture
def client(app_and_client):
    return app_and_client[1]


async def post_case(client, body, status=201):
    response = await client.post("/api/v1/cases", json=body, headers=AUTH)
    payload = await response.json()
    assert response.status == status, payload
    return response, payload


# -- authentication --------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": "Basic ZGVzazpwdw=="}, {"Authorization": "Bearer "}])
@pytest.mark.parametrize("method, path", [("POST", "/api/v1/cases"), ("GET", "/api/v1/cases"),
                                          ("GET", "/api/v1/cases/0123456789abcdef")])
async def test_without_a_valid_token_401(client, headers, method, path):
    response = await client.request(method, path, json={"notes": "安全账户"}, headers=headers)
    assert response.status == 401
    assert "token" in (await response.json())["error"]


async def test_a_refused_request_stores_nothing(app_and_client):
    app, client = app_and_client
    await client.post("/api/v1/cases", json={"notes": "安全账户"}, headers={"Authorization": "Bearer nope"})
    assert await app[CASE_STORE_KEY].count() == 0


# -- creating and reading ------------------------------------------------------------------


async def test_create_returns_201_location_and_the_masked_case(client):
    notes = f"来电人说自称警察的人让他把钱转到安全账户，对方电话{PHONE}"
    response, case = await post_case(client, {"notes": notes, "channel": "walk_in",
                                              "answers": {"pi_q_video": True, "pi_q_station": None},
                                              "claimed_identity": "市公安局刑侦大队"})
    assert response.headers["Location"] == f"/api/v1/cases/{case['id']}"
    assert case["channel"] == "walk_in" and case["operator"] == "" and case["masked"] is True
    assert case["answers"] == {"pi_q_video": True, "pi_q_station": None}
    assert case["verdict"]["scam_type"] == "police_impersonation"
    assert case["verdict"]["risk_level"] == "high"
    assert "pi_safe_account" in [f["id"] for f in case["verdict"]["red_flags"]]
    assert "pi_q_video" not in [q["id"] for q in case["verdict"]["questions"]]  # the answer was used
    assert case["notes"] == notes.replace(PHONE, "138****5678")
    assert case["created_at"].endswith("+00:00")

    again = await client.get(response.headers["Location"], headers=AUTH)
    assert again.status == 200
    assert await again.json() == case


async def test_defaults_channel_phone_and_no_answers(client):
    _, case = await post_case(client, {"notes": "对方说我中奖了"})
    assert (case["channel"], case["answers"], case["claimed_identity"]) == ("phone", {}, "")


async def test_phone_number_never_appears_in_any_response(client):
    responses = []
    response, case = await post_case(client, {"notes": f"骗子的电话是 {PHONE}，又打了 +86 138-1234-5678",
                                              "claimed_identity": f"回拨号码{PHONE}"})
    responses.append(await response.text())
    for path in (f"/api/v1/cases/{case['id']}", "/api/v1/cases", f"/api/v1/cases?q={PHONE}"):
        responses.append(await (await client.get(path, headers=AUTH)).text())
    for text in responses:
        assert PHONE not in text and "1234-5678" not in text
        assert "138****5678" in text


async def test_list_is_newest_first_with_total_and_paging(client):
    ids = [(await post_case(client, {"notes": f"第{i}个案子：安全账户"}))[1]["id"] for i in range(3)]
    body = await (await client.get("/api/v1/cases", headers=AUTH)).json()
    assert [c["id"] for c in body["cases"]] == ids[::-1]
    assert (body["total"], body["limit"], body["offset"]) == (3, 50, 0)
    page = await (await client.get("/api/v1/cases?limit=1&offset=1", headers=AUTH)).json()
    assert [c["id"] for c in page["cases"]] == [ids[1]]
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)


async def test_filters_by_type_text_and_date(client):
    _, police = await post_case(client, {"notes": "对方自称警察，让转安全账户"})
    _, shop = await post_case(client, {"notes": "自称淘宝客服说要退款理赔"})

    async def listed(query):
        body = await (await client.get(f"/api/v1/cases?{query}", headers=AUTH)).json()
        return [c["id"] for c in body["cases"]], body["total"]

    by_type = await listed("type=police_impersonation")
    assert police["id"] in by_type[0] and shop["id"] not in by_type[0]
    assert await listed("q=退款") == ([shop["id"]], 1)
    assert await listed("q=安全帳戶") == ([police["id"]], 1)  # Traditional Chinese too
    day = datetime.fromisoformat(police["created_at"]).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert sorted((await listed(f"since={day}&until={day}"))[0]) == sorted([police["id"], shop["id"]])
    assert await listed("since=2000-01-01&until=2000-01-31") == ([], 0)
    assert await listed(f"until={day}&type=customer_service_impersonation&q=%E8%87%AA%E7%A7%B0") == ([shop["id"]], 1)


async def test_unknown_case_is_404_json(client):
    for case_id in ("0123456789abcdef", "no-such-case", "%E4%BD%A0%E5%A5%BD"):
        response = await client.get(f"/api/v1/cases/{case_id}", headers=AUTH)
        assert response.status == 404
        assert (await response.json())["error"] == "no case with this id"


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({}, 400, "'notes' is required"),
        ({"notes": ""}, 400, "must not be empty"),
        ({"notes": 5}, 400, "must be a string"),
        ({"notes": "好" * 5001}, 413, "too long"),
        ({"notes": "安全账户", "answers": []}, 400, "'answers' must be an object"),
        ({"notes": "安全账户", "answers": {"pi_q_video": "yes"}}, 400, "true, false or null"),
        ({"notes": "安全账户", "answers": {"no_such_question": True}}, 400, "unknown question id"),
        ({"notes": "安全账户", "channel": "fax"}, 400, "channel: must be one of"),
        ({"notes": "安全账户", "channel": 3}, 400, "'channel' must be a string"),
        ({"notes": "安全账户", "claimed_identity": ["警官"]}, 400, "'claimed_identity' must be a string"),
        ({"notes": "安全账户", "claimed_identity": "警" * 201}, 400, "too long"),
        ({"notes": "a\u0000b"}, 400, "NUL"),
    ],
)
async def test_bad_case_bodies(app_and_client, body, status, fragment):
    app, client = app_and_client
    response = await client.post("/api/v1/cases", json=body, headers=AUTH)
    assert response.status == status
    assert fragment in (await response.json())["error"]
    assert await app[CASE_STORE_KEY].count() == 0  # nothing half-saved


@pytest.mark.parametrize("raw, content_type, status", [
    (b"[1, 2]", "application/json", 400),
    (b"{broken", "application/json", 400),
    (b"", "application/json", 400),
    (b'{"notes": "\\ud800"}', "application/json", 400),
    (b"notes=x", "application/x-www-form-urlencoded", 415),
])
async def test_malformed_bodies(client, raw, content_type, status):
    response = await client.post("/api/v1/cases", data=raw, headers={**AUTH, "Content-Type": content_type})
    assert response.status == status
    assert "error" in await response.json()


@pytest.mark.parametrize(
    "query, fragment",
    [
        ("since=2026-13-01", "'since' must be a date"),
        ("until=yesterday", "'until' must be a date"),
        ("since=2026-3-1", "'since' must be a date"),
        ("since=2026-03-05&until=2026-03-01", "'since' is after 'until'"),
        ("type=no_such_type", "unknown scam type"),
        ("limit=0", "'limit' must be an integer from 1 to 200"),
        ("limit=201", "'limit'"),
        ("limit=ten", "'limit'"),
        ("limit=-5", "'limit'"),
        ("offset=-1", "'offset'"),
        ("offset=99999999999999999999999", "'offset'"),
        ("q=" + "x" * 201, "'q' is too long"),
        ("q=%00", "NUL"),
    ],
)
async def test_bad_list_queries(client, query, fragment):
    response = await client.get(f"/api/v1/cases?{query}", headers=AUTH)
    assert response.status == 400
    assert fragment in (await response.json())["error"]


async def test_rasa_down_is_503_and_nothing_is_stored(aiohttp_client, mini_kb, tmp_path, monkeypatch, unused_tcp_port):
    monkeypatch.setenv("CASES_URL", f"sqlite:///{tmp_path}/cases.db")
    dead = f"http://127.0.0.1:{unused_tcp_port}"
    app = create_app(GatewayConfig(dead, dead, api_tokens=frozenset({TOKEN})), kb=mini_kb)
    client = await aiohttp_client(app)
    response = await client.post("/api/v1/cases", json={"notes": "安全账户"}, headers=AUTH)
    assert response.status == 503
    assert "error" in await response.json()
    assert await app[CASE_STORE_KEY].count() == 0


# -- the console's path -----------------------------------------------------------------------


async def test_save_case_records_the_operator_and_unknown_answers(app_and_client):
    app, _client = app_and_client
    case = await save_case(app, f"对方让转安全账户，电话{PHONE}", {"pi_q_video": None}, "phone",
                           claimed_identity="检察官", operator="wang")
    stored = await app[CASE_STORE_KEY].get(case.id)
    assert stored == case and stored.operator == "wang" and stored.answers == {"pi_q_video": None}
    assert PHONE in stored.notes  # raw in the store; masked only on output
    assert "pi_q_video" in [q["id"] for q in stored.verdict["questions"]]  # unknown = still to ask
    assert PHONE not in json.dumps(stored.to_api(), ensure_ascii=False)
