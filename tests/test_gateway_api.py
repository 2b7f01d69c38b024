"""Gateway API contract (DESIGN.md): /healthz, /api/v1/assess, /api/v1/chat, bad input."""
import pytest

from bot.gateway.app import GatewayConfig, create_app
from tests.fake_rasa import fake_rasa_app


@pytest.fixture
async def rasa_server(aiohttp_server):
    replies = [
        {"recipient_id": "u1", "text": "听起来像「冒充公检法」诈骗。",
         "buttons": [{"title": "是", "payload": "/affirm"}, {"title": "不是", "payload": "/deny"}]},
        {"recipient_id": "u1", "custom": {"verdict": {"scam_type": "police_impersonation"}}},
    ]
    return await aiohttp_server(fake_rasa_app(replies))


@pytest.fixture
async def client(aiohttp_client, rasa_server, mini_kb):
    url = str(rasa_server.make_url("")).rstrip("/")
    return await aiohttp_client(create_app(GatewayConfig(url, url), kb=mini_kb))


@pytest.fixture
async def client_without_rasa(aiohttp_client, mini_kb, unused_tcp_port):
    dead = f"http://127.0.0.1:{unused_tcp_port}"
    return await aiohttp_client(create_app(GatewayConfig(dead, dead), kb=mini_kb))


async def test_assess_returns_the_contract(client):
    response = await client.post("/api/v1/assess", json={"text": "让我把钱转到安全账户，电话13812345678"})
    assert response.status == 200
    body = await response.json()
    assert body["scam_type"] == "police_impersonation"
    assert body["risk_level"] == "high"
    assert {"id": "pi_safe_account"}.items() <= body["red_flags"][0].items()
    assert {"kind": "phone", "value": "13812345678"} in body["indicators"]


async def test_assess_answers_are_applied(client):
    plain = await (await client.post("/api/v1/assess", json={"text": "自称警察打来电话"})).json()
    answered = await (await client.post(
        "/api/v1/assess", json={"text": "自称警察打来电话", "answers": {"pi_q_transfer": True}})).json()
    assert "pi_q_transfer" in [q["id"] for q in plain["questions"]]
    assert "pi_q_transfer" not in [q["id"] for q in answered["questions"]]


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({}, 400, "'text' is required"),
        ({"text": ""}, 400, "must not be empty"),
        ({"text": "   "}, 400, "must not be empty"),
        ({"text": 42}, 400, "must be a string"),
        ({"text": ["a"]}, 400, "must be a string"),
        ({"text": "好" * 5001}, 413, "too long"),
        ({"text": "ok", "answers": ["x"]}, 400, "'answers' must be an object"),
        ({"text": "ok", "answers": {"pi_q_transfer": "yes"}}, 400, "must be true or false"),
        ({"text": "ok", "answers": {"no_such_question": True}}, 400, "unknown question id"),
    ],
)
async def test_assess_rejects_bad_input(client, body, status, fragment):
    response = await client.post("/api/v1/assess", json=body)
    assert response.status == status
    assert fragment in (await response.json())["error"]


async def test_assess_accepts_exactly_5000_characters(client):
    response = await client.post("/api/v1/assess", json={"text": "好" * 5000})
    assert response.status == 200


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\"text\"", b"", "\ud800".encode("utf-8", "surrogatepass")])
async def test_malformed_bodies_get_json_400(client, raw):
    response = await client.post("/api/v1/assess", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert "error" in await response.json()


async def test_huge_body_gets_json_413(client):
    response = await client.post("/api/v1/assess", data=b"x" * (200 * 1024),
                                 headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert "error" in await response.json()


async def test_chat_relays_the_conversation(client, rasa_server):
    response = await client.post("/api/v1/chat", json={"sender": "u1", "message": "我妈接到电话"})
    assert response.status == 200
    messages = await response.json()
    assert messages[0]["text"].startswith("听起来像")
    # Button payloads leave the gateway signed for this sender (issue 13: typed commands).
    assert [b["title"] for b in messages[0]["buttons"]] == ["是", "不是"]
    assert [b["payload"].split("#")[0] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert messages[1]["custom"]["verdict"]["scam_type"] == "police_impersonation"
    sent = [body for kind, body in rasa_server.app["received"] if kind == "webhook" and body["message"] == "我妈接到电话"]
    assert len(sent) == 1 and sent[0]["sender"] == "u1"
    assert sent[0]["metadata"]["turn_id"].isalpha()  # every turn carries its id (bot/gateway/rasa_client.py)


@pytest.mark.parametrize(
    "body, status",
    [({"message": "hi"}, 400), ({"sender": "u1"}, 400), ({"sender": "", "message": "hi"}, 400),
     ({"sender": "u1", "message": 3}, 400), ({"sender": "u" * 200, "message": "hi"}, 413),
     ({"sender": "u1", "message": "好" * 5001}, 413)],
)
async def test_chat_rejects_bad_input(client, body, status):
    response = await client.post("/api/v1/chat", json=body)
    assert response.status == status
    assert "error" in await response.json()


async def test_healthz_ready_when_everything_answers(client):
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["components"] == {"rasa": "ready", "actions": "ready", "gateway": "ready"}


async def test_healthz_and_api_when_rasa_is_down(client_without_rasa):
    health = await client_without_rasa.get("/healthz")
    assert health.status == 503
    assert (await health.json())["components"]["rasa"] == "unavailable"
    # /api/v1/assess never depends on Rasa (issue 13): without its NLU the KB's red flags decide.
    assess = await client_without_rasa.post("/api/v1/assess", json={"text": "自称警察，让我转到安全账户"})
    assert assess.status == 200
    verdict = await assess.json()
    assert verdict["risk_level"] in ("medium", "high") and verdict["red_flags"]


# -- the loss stage (issue 11): stage + money_lost in /api/v1/assess ------------------------------


@pytest.fixture
async def real_client(aiohttp_client, rasa_server, real_kb):
    from bot.gateway.keys import STAGE_MODEL_KEY

    url = str(rasa_server.make_url("")).rstrip("/")
    app = create_app(GatewayConfig(url, url), kb=real_kb)
    assert app[STAGE_MODEL_KEY] is not None, "build/stage_model.json missing: run `make build`"
    return await aiohttp_client(app)


@pytest.mark.parametrize(
    "text, stage, money_lost",
    [
        ("有人冒充物业让我交明年的管理费，我转了两千四到他私人微信", "paid", True),
        # A bill's words (物业费) no longer outweigh 转过去了: a bill sent to a private
        # account is a stage signal (data/kb/stages.yml), ordinary bills are learnt from none texts.
        ("物业的人让我把明年的物业费转到他私人微信，我昨天转过去了", "paid", True),
        ("佢話係警察，我過咗兩萬去佢指定嘅戶口", "paid", True),
        ("我外婆给那个保健品讲座的老师付了四千二，说是买药", "paid", True),
        ("客服说要核实身份，我把手机上收到的验证码念给他了", "credentials_given", False),
        ("他现在还在电话上跟我说话，一直不让我挂", "on_the_call", False),
        ("群里老师让我先充两千做任务，我差点就充了", "asked_to_pay", False),
        ("我沒有轉帳，只是對方一直打電話催", "asked_to_pay", False),
    ],
)
async def test_assess_returns_the_stage_and_money_lost_exactly_for_paid(real_client, text, stage, money_lost):
    body = await (await real_client.post("/api/v1/assess", json={"text": text})).json()
    assert (body["stage"], body["money_lost"]) == (stage, money_lost)
    urgent = stage in ("paid", "credentials_given")
    assert body["advice"][0].startswith("马上打 110") is urgent
    if urgent:
        assert body["risk_level"] == "high" and body["hotlines"][0]["number"] == "110"


async def test_assess_names_the_bank_when_money_is_gone(real_client):
    body = await (await real_client.post(
        "/api/v1/assess", json={"text": "冒充公安的让我把建设银行卡里的钱转到安全账户，我已经转了五万"})).json()
    assert body["stage"] == "paid"
    assert any(h["number"] == "95533" and "止付" in h["when"] for h in body["hotlines"])


async def test_the_openapi_document_requires_stage_and_money_lost(client):
    doc = await (await client.get("/api/openapi.json")).json()
    verdict = doc["components"]["schemas"]["Verdict"]
    assert {"stage", "money_lost"} <= set(verdict["required"])
    assert verdict["properties"]["stage"]["enum"] == [
        "not_engaged", "asked_to_pay", "paid", "credentials_given", "on_the_call"]
