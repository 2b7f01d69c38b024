"""The production profile's replicas (issue 12): how the gateway spreads and fails over
chat turns, and what `make run PROFILE=prod` starts.

The replicas here are small aiohttp apps sharing one dict of conversations, as real Rasa
replicas share the Redis tracker store: each stores the user turn (with its metadata) and
its reply, and serves the conversation at /conversations/<id>/tracker like Rasa's API.
"""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest
from aiohttp import web

from bot.gateway.app import GatewayConfig, create_app
from bot.gateway.keys import RASA_KEY
from bot.runtime import stack
from bot.settings import Settings


def replica_app(store: Dict[str, List[Dict[str, Any]]], name: str, *, store_after_s: float = 0.0,
                hang_after_store: bool = False, answer_after_s: float = 0.0) -> web.Application:
    app = web.Application()
    app["handled"] = []
    app["turns"] = []

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        app["handled"].append(body)
        reply = {"recipient_id": body["sender"], "text": f"{name} 收到：{body['message']}"}

        async def process() -> None:  # goes on when the gateway hangs up, as Rasa's turn does
            await asyncio.sleep(store_after_s)
            store.setdefault(body["sender"], []).extend([
                {"event": "user", "text": body["message"], "metadata": body.get("metadata") or {}},
                {"event": "bot", "text": reply["text"], "data": {}},
            ])

        turn = asyncio.ensure_future(process())
        app["turns"].append(turn)
        await asyncio.shield(turn)
        if hang_after_store:  # killed after saving, before answering
            await asyncio.sleep(30)
        await asyncio.sleep(answer_after_s)
        return web.json_response([reply])

    async def tracker(request: web.Request) -> web.Response:
        sender = request.match_info["sender"]
        return web.json_response({"sender_id": sender, "events": store.get(sender, [])})

    async def ok(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_get("/conversations/{sender:[^/]+}/tracker", tracker)
    app.router.add_get("/status", ok)
    app.router.add_get("/health", ok)
    return app


def url_of(server) -> str:
    return str(server.make_url("")).rstrip("/")


async def gateway(aiohttp_client, mini_kb, urls: List[str], actions: str, timeout_s: float = 5.0):
    config = GatewayConfig(urls[0], actions, rasa_urls=tuple(urls), timeout_s=timeout_s)
    return await aiohttp_client(create_app(config, kb=mini_kb))


async def chat(client, sender: str, message: str):
    return await client.post("/api/v1/chat", json={"sender": sender, "message": message})


async def test_turns_of_one_sender_stay_on_one_replica_and_senders_spread_over_both(aiohttp_client, aiohttp_server, mini_kb):
    store: Dict[str, List[Dict[str, Any]]] = {}
    a, b = await aiohttp_server(replica_app(store, "A")), await aiohttp_server(replica_app(store, "B"))
    client = await gateway(aiohttp_client, mini_kb, [url_of(a), url_of(b)], url_of(a))
    for i in range(20):
        for _ in range(3):
            assert (await chat(client, f"resident-{i}", "你好")).status == 200
    per_sender = {}
    for app, name in ((a.app, "A"), (b.app, "B")):
        for body in app["handled"]:
            per_sender.setdefault(body["sender"], set()).add(name)
    assert all(len(names) == 1 for names in per_sender.values())
    assert {n for names in per_sender.values() for n in names} == {"A", "B"}


async def test_a_dead_replica_is_passed_over_and_every_turn_is_answered(aiohttp_client, aiohttp_server, mini_kb, unused_tcp_port):
    store: Dict[str, List[Dict[str, Any]]] = {}
    live = await aiohttp_server(replica_app(store, "B"))
    dead = f"http://127.0.0.1:{unused_tcp_port}"
    client = await gateway(aiohttp_client, mini_kb, [dead, url_of(live)], url_of(live))
    for i in range(10):
        response = await chat(client, f"resident-{i}", "有人让我转账")
        assert response.status == 200
        assert (await response.json())[0]["text"].startswith("B 收到")
    health = await client.get("/healthz")
    body = await health.json()
    assert health.status == 503  # green only when every replica is
    assert body["components"][f"rasa@{dead.split('://')[1]}"] == "unavailable"
    assert body["components"]["rasa"] == "unavailable"
    assert body["replicas"][0]["failures"] >= 1 and body["replicas"][1]["turns"] == 10


async def test_a_turn_stored_by_a_replica_that_died_is_answered_from_the_store_not_sent_again(
        aiohttp_client, aiohttp_server, mini_kb):
    store: Dict[str, List[Dict[str, Any]]] = {}
    dying = await aiohttp_server(replica_app(store, "A", hang_after_store=True))
    other = await aiohttp_server(replica_app(store, "B"))
    client = await gateway(aiohttp_client, mini_kb, [url_of(dying), url_of(other)], url_of(other), timeout_s=0.5)
    sender = next(f"r{i}" for i in range(100)
                  if client.app[RASA_KEY]._order(f"r{i}")[0].url == url_of(dying))  # a sender whose replica is A
    response = await chat(client, sender, "对方让我下载软件")
    assert response.status == 200
    assert (await response.json()) == [{"text": "A 收到：对方让我下载软件"}]
    assert [e["text"] for e in store[sender] if e["event"] == "user"] == ["对方让我下载软件"]
    assert other.app["handled"] == []
    health = await (await client.get("/healthz")).json()
    assert health["turns"]["recovered_from_store"] == 1 and health["turns"]["duplicated"] == 0


async def test_a_slow_replicas_turn_is_awaited_in_the_store_not_sent_again(aiohttp_client, aiohttp_server, mini_kb):
    # A answers nothing within the 1 s timeout but stores the turn at 1.3 s: the gateway
    # finds it in the store instead of processing it a second time on B.
    store: Dict[str, List[Dict[str, Any]]] = {}
    slow = await aiohttp_server(replica_app(store, "A", store_after_s=1.3, hang_after_store=True))
    other = await aiohttp_server(replica_app(store, "B"))
    client = await gateway(aiohttp_client, mini_kb, [url_of(slow), url_of(other)], url_of(other), timeout_s=1.0)
    sender = next(f"r{i}" for i in range(100) if client.app[RASA_KEY]._order(f"r{i}")[0].url == url_of(slow))
    response = await chat(client, sender, "是")
    assert response.status == 200
    assert (await response.json()) == [{"text": "A 收到：是"}]
    assert [e["text"] for e in store[sender] if e["event"] == "user"] == ["是"]
    assert other.app["handled"] == []


async def test_a_turn_processed_twice_after_a_timeout_is_reported_as_duplicated(aiohttp_client, aiohttp_server, mini_kb):
    # A is slower still: nothing in the store 1 s after its timeout, so the turn goes to B;
    # A stores it at 2.5 s anyway, before B (0.8 s) has answered: the turn is stored twice.
    store: Dict[str, List[Dict[str, Any]]] = {}
    slow = await aiohttp_server(replica_app(store, "A", store_after_s=2.5, hang_after_store=True))
    other = await aiohttp_server(replica_app(store, "B", answer_after_s=0.8))
    client = await gateway(aiohttp_client, mini_kb, [url_of(slow), url_of(other)], url_of(other), timeout_s=1.0)
    sender = next(f"r{i}" for i in range(100) if client.app[RASA_KEY]._order(f"r{i}")[0].url == url_of(slow))
    response = await chat(client, sender, "是")
    assert response.status == 200
    assert (await response.json()) == [{"text": "B 收到：是"}]
    assert [e["text"] for e in store[sender] if e["event"] == "user"] == ["是", "是"]
    health = await (await client.get("/healthz")).json()
    assert health["turns"] == {"retried": 1, "recovered_from_store": 0, "duplicated": 1}


def prod_settings(**extra: str) -> Settings:
    return Settings.from_env({"PROFILE": "prod", "RASA_PORT": "5160", "ACTIONS_PORT": "5169", "GATEWAY_PORT": "8160",
                              "REDIS_URL": "redis://127.0.0.1:6379/6", "RASA_AUTH_TOKEN": "t", **extra})


def test_prod_profile_starts_rasa_replicas_on_every_other_port_with_the_redis_endpoints():
    cmds = stack.commands(prod_settings(RASA_REPLICAS="3"))
    assert list(cmds) == ["actions", "rasa-1", "rasa-2", "rasa-3", "gateway"]
    ports = [cmds[f"rasa-{i}"][cmds[f"rasa-{i}"].index("--port") + 1] for i in (1, 2, 3)]
    assert ports == ["5160", "5162", "5164"]
    assert all(cmds[f"rasa-{i}"][cmds[f"rasa-{i}"].index("--endpoints") + 1] == "endpoints.production.yml" for i in (1, 2, 3))


def test_prod_environment_names_the_redis_stores_and_the_replicas_for_the_gateway():
    env = stack.environment({"PROFILE": "prod", "RASA_PORT": "5160", "ACTIONS_PORT": "5169",
                             "REDIS_URL": "redis://127.0.0.1:6380/6"})
    assert (env["REDIS_HOST"], env["REDIS_PORT"], env["REDIS_TRACKER_DB"], env["REDIS_LOCK_DB"]) == ("127.0.0.1", "6380", "6", "6")
    assert env["RASA_URLS"] == "http://127.0.0.1:5160,http://127.0.0.1:5162"
    assert env["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:5169/webhook"
    assert int(env["TICKET_LOCK_LIFETIME"]) < 60  # a killed replica must not lock a conversation for a minute
    assert Settings.from_env(env).rasa_base_urls == ["http://127.0.0.1:5160", "http://127.0.0.1:5162"]


def test_default_profile_is_unchanged():
    settings = Settings.from_env({"RASA_PORT": "5005", "RASA_AUTH_TOKEN": "t"})  # Rasa never runs without one
    cmds = stack.commands(settings)
    assert list(cmds) == ["actions", "rasa", "gateway"]
    assert cmds["rasa"][cmds["rasa"].index("--endpoints") + 1] == "endpoints.yml"
    env = stack.environment({"RASA_PORT": "5005"})
    assert "RASA_URLS" not in env and "REDIS_HOST" not in env


@pytest.mark.parametrize("url, address", [
    ("redis://127.0.0.1:6379/6", ("127.0.0.1", 6379, 6)),
    ("redis://localhost", ("localhost", 6379, 0)),
])
def test_redis_address(url, address):
    assert stack.redis_address(url) == address


async def test_the_tracker_is_read_from_the_next_replica_when_the_senders_one_is_dead(aiohttp_client, aiohttp_server,
                                                                                     mini_kb, unused_tcp_port):
    # Before a resend the gateway looks the turn up in the store; a dead first replica must
    # not make a stored turn look unstored (make chaos stored 101 turns twice that way).
    store: Dict[str, List[Dict[str, Any]]] = {"r1": [{"event": "user", "text": "你好"}]}
    live = await aiohttp_server(replica_app(store, "B"))
    client = await gateway(aiohttp_client, mini_kb, [f"http://127.0.0.1:{unused_tcp_port}", url_of(live)], url_of(live))
    events = await client.app[RASA_KEY].tracker_events("r1")
    assert events == [{"event": "user", "text": "你好"}]


def test_simulated_residents_tap_the_signed_buttons_and_rasa_gets_the_command():
    import random

    from bot.gateway.input_guard import ButtonSigner
    from bot.quality import selfcheck

    signer = ButtonSigner(b"k" * 32)
    replies = signer.sign_buttons("s", [{"text": "对方让您转账了吗？", "buttons": [
        {"title": "是", "payload": "/affirm"}, {"title": "不是", "payload": "/deny"}]}])
    answer = selfcheck.next_answer(replies, random.Random(0))
    assert answer is not None and answer.startswith(("/affirm#", "/deny#"))
    assert signer.admit("s", answer) == selfcheck.sent_to_rasa(answer) in ("/affirm", "/deny")
