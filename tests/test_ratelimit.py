"""Rate limits at the edge (issue 13): per sender and per address, 429 + Retry-After + 110/96110."""
from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
import redis
from aiohttp import web

from bot.gateway import auth
from bot.gateway.app import GatewayConfig, create_app
from bot.gateway.ratelimit import LIMITER_KEY, RateLimiter
from bot.settings import Settings
from tests.fake_rasa import fake_rasa_app

REDIS_URL = "redis://127.0.0.1:6379/4"
PASSWORD = "correct horse battery"


def _settings(**env: str) -> Settings:
    # Refused answers go out at once here (RATE_LIMIT_TARPIT_S has its own test).
    return Settings.from_env({"OPERATORS_FILE": env.pop("OPERATORS_FILE", "/nonexistent/operators.yml"),
                              "RATE_LIMIT_TARPIT_S": "0", **env})


@pytest.fixture
async def rasa_url(aiohttp_server):
    server = await aiohttp_server(fake_rasa_app())
    return str(server.make_url("")).rstrip("/")


async def _client(aiohttp_client, rasa_url, mini_kb, **env: str):
    return await aiohttp_client(create_app(GatewayConfig(rasa_url, rasa_url), kb=mini_kb, settings=_settings(**env)))


def _assert_limited(response, body) -> None:
    assert response.status == 429
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 60
    assert set(body) == {"error"}
    assert "110" in body["error"] and "96110" in body["error"] and f"{wait} 秒" in body["error"]


async def test_a_flooding_sender_gets_429_and_other_senders_still_get_answers(aiohttp_client, rasa_url, mini_kb):
    client = await _client(aiohttp_client, rasa_url, mini_kb, RATE_LIMIT_CHAT_SENDER="3/minute")
    for _ in range(3):
        assert (await client.post("/api/v1/chat", json={"sender": "flood", "message": "你好"})).status == 200
    response = await client.post("/api/v1/chat", json={"sender": "flood", "message": "你好"})
    _assert_limited(response, await response.json())
    other = await client.post("/api/v1/chat", json={"sender": "neighbour", "message": "你好"})
    assert other.status == 200 and (await other.json())[0]["text"] == "您好"


async def test_chat_and_assess_are_limited_per_client_address(aiohttp_client, rasa_url, mini_kb):
    client = await _client(aiohttp_client, rasa_url, mini_kb,
                           RATE_LIMIT_CHAT_ADDRESS="4/minute", RATE_LIMIT_ASSESS_ADDRESS="2/minute")
    for i in range(4):  # a new sender each time: the address limit still counts them all
        assert (await client.post("/api/v1/chat", json={"sender": f"s{i}", "message": "你好"})).status == 200
    response = await client.post("/api/v1/chat", json={"sender": "s-new", "message": "你好"})
    _assert_limited(response, await response.json())
    for _ in range(2):
        assert (await client.post("/api/v1/assess", json={"text": "让我转到安全账户"})).status == 200
    response = await client.post("/api/v1/assess", json={"text": "让我转到安全账户"})
    _assert_limited(response, await response.json())


async def test_refused_requests_never_reach_rasa(aiohttp_client, aiohttp_server, mini_kb):
    rasa = fake_rasa_app()
    url = str((await aiohttp_server(rasa)).make_url("")).rstrip("/")
    client = await _client(aiohttp_client, url, mini_kb, RATE_LIMIT_CHAT_SENDER="2/minute")
    statuses = [(await client.post("/api/v1/chat", json={"sender": "x", "message": "你好"})).status for _ in range(5)]
    assert statuses == [200, 200, 429, 429, 429]
    assert len([r for r in rasa["received"] if r[0] == "webhook"]) == 2


async def test_limits_can_be_switched_off(aiohttp_client, rasa_url, mini_kb):
    client = await _client(aiohttp_client, rasa_url, mini_kb, RATE_LIMIT_CHAT_SENDER="1/minute",
                           RATE_LIMITS_ENABLED="false")
    for _ in range(3):
        assert (await client.post("/api/v1/chat", json={"sender": "x", "message": "你好"})).status == 200


def test_a_bad_rate_setting_names_the_variable():
    with pytest.raises(ValueError, match="RATE_LIMIT_CHAT_SENDER"):
        RateLimiter.from_settings(_settings(RATE_LIMIT_CHAT_SENDER="lots"))


def test_a_broken_store_lets_requests_through(caplog):
    limiter = RateLimiter.from_settings(_settings(RATE_LIMIT_CHAT_SENDER="1/minute"))

    class Broken:
        def __getattr__(self, name):
            raise ConnectionError("redis is down")

    limiter.strategy = Broken()  # type: ignore[assignment]
    assert [limiter.hit("chat_sender", "x") for _ in range(3)] == [None, None, None]
    assert "letting the request through" in caplog.text


def _redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    return client


async def test_with_redis_url_replicas_count_together(aiohttp_client, rasa_url, mini_kb):
    store = _redis_or_skip()
    prefix = f"fzzc:test-ratelimit:{secrets.token_hex(6)}"
    env = {"REDIS_URL": REDIS_URL, "RATE_LIMIT_PREFIX": prefix, "RATE_LIMIT_CHAT_SENDER": "3/minute"}
    first = await _client(aiohttp_client, rasa_url, mini_kb, **env)
    second = await _client(aiohttp_client, rasa_url, mini_kb, **env)
    assert first.app[LIMITER_KEY].storage_uri == REDIS_URL
    statuses = []
    for replica in (first, second, first, second):
        statuses.append((await replica.post("/api/v1/chat", json={"sender": "shared", "message": "你好"})).status)
    assert statuses == [200, 200, 200, 429]
    keys = store.keys(f"*{prefix}*")
    try:
        assert keys and not [k for k in keys if b"shared" in k]  # senders are hashed in the keys
    finally:
        if keys:
            store.delete(*keys)


# -- wrong logins: per username and per address ---------------------------------------------------


@pytest.fixture
def operators_file(tmp_path: Path) -> Path:
    path = tmp_path / "operators.yml"
    auth.save_operator(path, "wang", PASSWORD, "王警官")
    auth.save_operator(path, "li", PASSWORD, "李警官")
    return path


async def _login(client, username: str, password: str):
    return await client.post("/console/login", data={"username": username, "password": password, "next": "/console"},
                             allow_redirects=False)


async def test_wrong_logins_are_limited_per_address_across_usernames(aiohttp_client, rasa_url, mini_kb, operators_file):
    client = await _client(aiohttp_client, rasa_url, mini_kb, OPERATORS_FILE=str(operators_file),
                           RATE_LIMIT_LOGIN_ADDRESS="4/15 minutes", RATE_LIMIT_LOGIN_USERNAME="10/5 minutes")
    for i in range(4):  # guessing a different username each time
        assert (await _login(client, f"guess{i}", "wrong password")).status == 401
    response = await _login(client, "li", PASSWORD)  # even a right login, from this address, waits
    assert response.status == 429 and "尝试次数太多" in await response.text()
    assert 1 <= int(response.headers["Retry-After"]) <= 15 * 60


async def test_wrong_logins_are_limited_per_username_and_a_right_login_clears_it(
        aiohttp_client, rasa_url, mini_kb, operators_file):
    client = await _client(aiohttp_client, rasa_url, mini_kb, OPERATORS_FILE=str(operators_file),
                           RATE_LIMIT_LOGIN_ADDRESS="100/15 minutes", RATE_LIMIT_LOGIN_USERNAME="3/5 minutes")
    for _ in range(2):
        assert (await _login(client, "wang", "wrong password")).status == 401
    assert (await _login(client, "wang", PASSWORD)).status == 302  # clears wang's count
    for _ in range(3):
        assert (await _login(client, "wang", "wrong password")).status == 401
    assert (await _login(client, "wang", PASSWORD)).status == 429
    assert (await _login(client, "li", PASSWORD)).status == 302  # another account is not locked out


async def test_a_sender_gets_at_most_two_turns_at_a_time(aiohttp_client, aiohttp_server, mini_kb):
    release = asyncio.Event()
    slow = web.Application()

    async def webhook(request):
        await release.wait()
        return web.json_response([{"text": "您好"}])

    slow.router.add_post("/webhooks/rest/webhook", webhook)
    url = str((await aiohttp_server(slow)).make_url("")).rstrip("/")
    client = await _client(aiohttp_client, url, mini_kb)
    turns = [asyncio.ensure_future(client.post("/api/v1/chat", json={"sender": "busy", "message": "你好"}))
             for _ in range(2)]
    await asyncio.sleep(0.3)  # both are waiting in "Rasa"
    third = await client.post("/api/v1/chat", json={"sender": "busy", "message": "你好"})
    body = await third.json()
    assert third.status == 429 and third.headers["Retry-After"] == "1"
    assert "还在分析" in body["error"] and "110" in body["error"] and "96110" in body["error"]
    other = asyncio.ensure_future(client.post("/api/v1/chat", json={"sender": "someone-else", "message": "你好"}))
    release.set()
    assert [r.status for r in await asyncio.gather(*turns, other)] == [200, 200, 200]
    assert (await client.post("/api/v1/chat", json={"sender": "busy", "message": "你好"})).status == 200


async def test_a_refused_api_request_is_answered_after_the_tarpit(aiohttp_client, rasa_url, mini_kb):
    client = await _client(aiohttp_client, rasa_url, mini_kb, RATE_LIMIT_CHAT_SENDER="1/minute",
                           RATE_LIMIT_ASSESS_ADDRESS="1/minute", RATE_LIMIT_TARPIT_S="0.5")
    loop = asyncio.get_running_loop()
    assert (await client.post("/api/v1/chat", json={"sender": "x", "message": "你好"})).status == 200
    started = loop.time()
    refused = await client.post("/api/v1/chat", json={"sender": "x", "message": "你好"})
    assert refused.status == 429 and loop.time() - started >= 0.5
    assert (await client.post("/api/v1/assess", json={"text": "让我转到安全账户"})).status == 200
    started = loop.time()
    assert (await client.post("/api/v1/assess", json={"text": "让我转到安全账户"})).status == 429
    assert loop.time() - started >= 0.5
    started = loop.time()  # answered requests are never held back
    assert (await client.post("/api/v1/chat", json={"sender": "y", "message": "你好"})).status == 200
    assert loop.time() - started < 0.5
