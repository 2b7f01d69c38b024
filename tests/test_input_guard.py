"""Issue 13: typed commands never drive Rasa, hostile JSON never raises, text is cleaned."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from bot.gateway import input_guard
from bot.gateway.app import GatewayConfig, create_app
from bot.gateway.input_guard import ButtonSigner, UnsafeJson, allowed_command, loads_bounded, neutralise
from tests.fake_rasa import fake_rasa_app

ROOT = Path(__file__).resolve().parents[1]
BUTTONS = [{"title": "是", "payload": "/affirm"}, {"title": "查另一件事", "payload": "/restart"},
           {"title": "老年朋友", "payload": '/start_quiz{"audience": "elderly"}'}]


@pytest.fixture
async def rasa_server(aiohttp_server):
    return await aiohttp_server(fake_rasa_app([{"recipient_id": "u1", "text": "请选择", "buttons": BUTTONS}]))


@pytest.fixture
async def client(aiohttp_client, rasa_server, mini_kb):
    url = str(rasa_server.make_url("")).rstrip("/")
    return await aiohttp_client(create_app(GatewayConfig(url, url), kb=mini_kb))


def _sent_to_rasa(rasa_server) -> list:
    return [body["message"] for kind, body in rasa_server.app["received"] if kind == "webhook"]


@pytest.mark.parametrize("typed", ["/restart", " /restart", "/report_loss{\"amount\": \"5万\"}",
                                   '/affirm{"scam_type": "none"}', "/nlu_fallback", "/session_start",
                                   "/affirm#0000000000000000", "/ask_scam_type{\"scam_type\": " + "\"x\"" + "}"])
async def test_a_typed_command_reaches_rasa_as_plain_text(client, rasa_server, typed):
    response = await client.post("/api/v1/chat", json={"sender": "u1", "message": typed})
    assert response.status == 200
    sent = _sent_to_rasa(rasa_server)[-1]
    assert not sent.startswith("/") and sent.startswith(input_guard.NEUTRAL_PREFIX)


async def test_the_gateways_own_buttons_still_send_their_payloads(client, rasa_server):
    first = await (await client.post("/api/v1/chat", json={"sender": "u1", "message": "你好"})).json()
    signed = [b["payload"] for b in first[0]["buttons"]]
    assert all(p.startswith("/") and "#" in p for p in signed)
    for payload in signed:
        assert (await client.post("/api/v1/chat", json={"sender": "u1", "message": payload})).status == 200
    assert _sent_to_rasa(rasa_server)[-3:] == [b["payload"] for b in BUTTONS]


async def test_a_button_signed_for_one_sender_is_text_for_another(client, rasa_server):
    first = await (await client.post("/api/v1/chat", json={"sender": "u1", "message": "你好"})).json()
    restart = first[0]["buttons"][1]["payload"]
    await client.post("/api/v1/chat", json={"sender": "someone-else", "message": restart})
    assert _sent_to_rasa(rasa_server)[-1].startswith(input_guard.NEUTRAL_PREFIX)


async def test_assess_never_sends_a_command_to_rasa(client, rasa_server):
    response = await client.post("/api/v1/assess", json={"text": "/restart"})
    assert response.status == 200
    parsed = [body["text"] for kind, body in rasa_server.app["received"] if kind == "parse"]
    assert parsed[-1] == input_guard.NEUTRAL_PREFIX + "restart"


def test_a_signed_payload_off_the_allowlist_is_refused():
    signer = ButtonSigner(b"k" * 32)
    for payload in ("/restart_everything", '/affirm{"password": "x"}', '/start_quiz{"audience": ' + '"' + "x" * 100 + '"}',
                    '/start_quiz{"audience": 3}', "/affirm{not json}"):
        assert signer.admit("u1", signer.sign("u1", payload)).startswith(input_guard.NEUTRAL_PREFIX)


def _button_payloads_in_actions() -> set:
    """Every literal button payload the action server can emit (the allowlist must admit them)."""
    found = set()
    for path in (ROOT / "actions").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.match(r"^/[a-z_]+(\{|$)", node.value):
                found.add(node.value.replace("%s", "x").replace("%d", "1"))
    return found


def test_every_button_the_actions_emit_is_on_the_allowlist():
    payloads = _button_payloads_in_actions()
    assert len(payloads) >= 10
    refused = sorted(p for p in payloads if not allowed_command(p))
    assert refused == []


@pytest.mark.parametrize("raw", ["[" * 2000 + "]" * 2000, '{"a":' * 500 + "1" + "}" * 500,
                                 "[" * 100000])
def test_deep_nesting_is_refused_before_parsing(raw):
    with pytest.raises(UnsafeJson):
        loads_bounded(raw)


def test_a_5000_digit_integer_is_refused_not_raised():
    with pytest.raises(UnsafeJson):
        loads_bounded('{"text": "x", "answers": {"q": ' + "9" * 5000 + "}}")
    assert loads_bounded('{"n": 12345, "s": "[[[[", "f": 1.5}') == {"n": 12345, "s": "[[[[", "f": 1.5}


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = "[" * 1000
    assert loads_bounded(json.dumps({"text": text})) == {"text": text}


def test_neutralise_removes_surrogates_and_controls_and_leading_slash():
    assert neutralise("\ud800我\x00被骗了\x1b") == "我被骗了"
    assert neutralise("  /restart") == input_guard.NEUTRAL_PREFIX + "restart"
    assert neutralise("第一行\n第二行\t") == "第一行\n第二行\t"


@pytest.mark.parametrize("body", ['{"sender": "u1", "message": "\\ud800"}',
                                  '{"sender": "u1", "message": "\\ud800\\udfff\\ud800 我转了钱"}',
                                  '{"sender": "\\udfff", "message": "你好"}'])
async def test_lone_surrogates_get_an_answer_not_an_error(client, body):
    response = await client.post("/api/v1/chat", data=body.encode(), headers={"Content-Type": "application/json"})
    assert response.status in (200, 400)
    if response.status == 400:
        assert "error" in await response.json()


@pytest.mark.parametrize("endpoint", ["/api/v1/chat", "/api/v1/assess"])
@pytest.mark.parametrize("raw", ["[" * 3000, '{"text": "x", "message": "x", "sender": "u", "n": ' + "7" * 6000 + "}",
                                 "{" * 5000 + "}" * 5000])
async def test_hostile_json_gets_a_400(client, endpoint, raw):
    response = await client.post(endpoint, data=raw.encode(), headers={"Content-Type": "application/json"})
    assert response.status == 400 and "error" in await response.json()
