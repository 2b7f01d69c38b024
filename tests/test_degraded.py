"""Degraded mode (issue 13 item 6): when Rasa or the action server does not answer, the
resident still gets what to do now (110 / 96110) from bot.kb, and nothing they typed is lost.

Two halves:
- the gateway against a scripted stand-in for Rasa (fast: hangs, refusals, empty answers,
  a late answer the tracker already holds), and the Redis queue (real Redis, db 15);
- fault tests against the real stack (`rasa run actions` + `rasa run` with the trained
  model, the gateway on a live port): the action server and Rasa are paused (SIGSTOP) or
  killed, the degraded reply must come within 4 s carrying 110 or 96110, and after
  SIGCONT / restart the kept message is answered without retyping. These start Rasa once per
  module (a minute or two on a busy machine) and are skipped without a trained model.

    RASA_PORT=5150 ACTIONS_PORT=5151 .venv/bin/python -m pytest -q tests/test_degraded.py
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest
from aiohttp import web

from bot.gateway.app import create_app
from bot.gateway.config import GatewayConfig
from bot.gateway.degraded import (
    CONTINUE_TITLE,
    DEGRADED_KEY,
    MemoryPendingStore,
    Pending,
    RedisPendingStore,
    degraded_messages,
)
from bot.settings import Settings
from tests.live_gateway import LiveGateway

DESCRIPTION = "有人自称公安局的警官，说我涉嫌洗钱，让我把钱转到安全账户"
MONEY_GONE = "我刚才按客服说的把5万块转给对方了，说是退款要先交保证金，工商银行的卡"
QUESTION = "对方有没有让您下载软件、开视频“做笔录”？"
UNSURE = "说不准"  # a typed "/unsure" is not a command (bot/gateway/input_guard.py)
BUDGET_S = 0.5  # the stand-in tests shorten the 3 s wait; the real-stack tests keep it


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def is_degraded(messages: List[Dict[str, Any]]) -> bool:
    return any((m.get("custom") or {}).get("degraded") is True for m in messages)


# -- the reply itself (pure: bot.kb only) -------------------------------------------------------


def test_money_gone_gets_the_urgent_steps_first_with_110_and_the_named_bank(real_kb):
    messages = degraded_messages(real_kb, [MONEY_GONE])
    first = messages[0]["text"]
    # The chat's own urgent message (one rendering, bot.kb.loss): 110 is the first step.
    assert first.startswith("🚨") and "110" in first.splitlines()[1]
    assert "95588" in first  # 工商银行's own number, from hotlines.yml
    assert "96110" in texts(messages)


def test_a_description_gets_the_risk_and_type_line_and_why(real_kb):
    messages = degraded_messages(real_kb, [DESCRIPTION])
    lines = messages[0]["text"].splitlines()
    assert lines[0].startswith("⚠️ 高危 · ")
    assert "安全账户" in messages[0]["text"]
    assert "110" in messages[0]["text"] and "96110" in messages[0]["text"]
    assert messages[-1]["buttons"] == [{"title": CONTINUE_TITLE, "payload": CONTINUE_TITLE}]


def test_a_bare_answer_claims_no_verdict_but_still_says_whom_to_call(real_kb):
    messages = degraded_messages(real_kb, ["是"])
    body = messages[0]["text"]
    assert not body.startswith(("⚠️", "🔶", "ℹ️"))
    assert "110" in body and "96110" in body


def test_a_kept_description_still_judges_the_answer_that_follows_it(real_kb):
    assert degraded_messages(real_kb, [DESCRIPTION, "是"])[0]["text"].startswith("⚠️ 高危")


# -- the gateway against a scripted Rasa -------------------------------------------------------


class ScriptedRasa:
    """Rasa's REST channel, /status, the tracker API and the action server's /health."""

    def __init__(self) -> None:
        self.mode = "ok"  # ok | hang | slow | empty | error | lost
        self.received: List[str] = []
        self.turn_ids: List[str] = []  # the metadata turn id of each message received
        self.dropped: List[str] = []
        self.lost: List[str] = []  # answered with an error after the wait, never stored ("lost")
        self.events: List[Dict[str, Any]] = []

    def reply_to(self, message: str) -> List[Dict[str, Any]]:
        if message in ("是", "/affirm"):
            return [{"text": "⚠️ 高危 · 冒充公检法及政府机关"}]
        return [{"text": "听起来像「冒充公检法」诈骗。"},
                {"text": QUESTION, "buttons": [{"title": "是", "payload": "/affirm"}]}]

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        message = body["message"]
        self.received.append(message)
        metadata = body.get("metadata") or {}
        self.turn_ids.append(metadata.get("turn_id"))
        received_at = time.time()
        for _ in range(600):  # hang: a paused Rasa, which carries on with the turn once resumed
            if self.mode != "hang":
                break
            await asyncio.sleep(0.05)
        if self.mode == "error":
            return web.json_response({"error": "boom"}, status=500)
        if self.mode == "lost":
            # A replica killed mid-turn: read, never stored, and no answer within the wait.
            await asyncio.sleep(BUDGET_S * 1.5)
            self.lost.append(message)
            return web.json_response({"error": "killed"}, status=502)
        if self.mode == "empty":  # the action server is down: Rasa stores the turn, answers nothing
            self.events.append({"event": "user", "text": message, "timestamp": received_at, "metadata": metadata})
            return web.json_response([])
        if self.mode == "slow":
            await asyncio.sleep(BUDGET_S * 2)
            if request.transport is None or request.transport.is_closing():
                # Like Rasa: Sanic cancels the handler of a caller that hung up, and the
                # turn is never stored.
                self.dropped.append(message)
                return web.Response(status=499)
        return web.json_response(self.run_turn(message, received_at, metadata))

    def run_turn(self, message: str, received_at: float, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        out = self.reply_to(message)
        # As Rasa 3.6 stores a REST turn: the request's `metadata` is the user event's.
        self.events.append({"event": "user", "text": message, "timestamp": received_at, "metadata": metadata})
        self.events += [{"event": "bot", "text": m["text"], "timestamp": time.time(),
                         "data": {"buttons": m.get("buttons")}} for m in out]
        return out

    async def tracker(self, request: web.Request) -> web.Response:
        return web.json_response({"sender_id": request.match_info["sender"], "events": self.events})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"}, status=503 if self.mode == "empty" else 200)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.webhook)
        app.router.add_get("/conversations/{sender:[^/]+}/tracker", self.tracker)
        app.router.add_get("/status", self.health)
        app.router.add_get("/health", self.health)
        return app


@pytest.fixture
async def scripted(aiohttp_client, aiohttp_server, real_kb):
    rasa = ScriptedRasa()
    server = await aiohttp_server(rasa.app())
    url = str(server.make_url("")).rstrip("/")
    settings = Settings.from_env({"DEGRADED_AFTER_S": str(BUDGET_S)})
    app = create_app(GatewayConfig(url, url), kb=real_kb, settings=settings)
    client = await aiohttp_client(app)

    async def chat(message: str, sender: str = "web:degraded-1") -> List[Dict[str, Any]]:
        response = await client.post("/api/v1/chat", json={"sender": sender, "message": message})
        assert response.status == 200
        return await response.json()

    return rasa, chat, client, app


@pytest.mark.parametrize("mode", ["hang", "error", "empty"])
async def test_a_silent_rasa_or_action_server_gets_the_kb_reply_and_keeps_the_message(scripted, mode):
    rasa, chat, _client, app = scripted
    rasa.mode = mode
    messages = await chat(DESCRIPTION)
    assert is_degraded(messages)
    assert "110" in texts(messages) and "96110" in texts(messages)
    kept = await app[DEGRADED_KEY].store.take("web:degraded-1")
    assert [p.message for p in kept] == [DESCRIPTION]
    assert kept[0].maybe_delivered is (mode == "hang")  # only a timeout may have reached Rasa


async def test_after_recovery_the_next_answer_continues_the_same_check(scripted):
    rasa, chat, _client, _app = scripted
    rasa.mode = "error"
    assert is_degraded(await chat(DESCRIPTION))
    rasa.mode, rasa.received = "ok", []
    messages = await chat("是")
    assert rasa.received == [DESCRIPTION, "是"]  # replayed first, in order: no retyping
    assert not is_degraded(messages)
    assert texts(messages).endswith("⚠️ 高危 · 冒充公检法及政府机关")


async def test_continue_only_replays_the_kept_message(scripted):
    rasa, chat, _client, _app = scripted
    rasa.mode = "error"
    await chat(DESCRIPTION)
    rasa.mode, rasa.received = "ok", []
    messages = await chat(CONTINUE_TITLE)
    assert rasa.received == [DESCRIPTION]
    assert messages[-1]["text"] == QUESTION


async def test_a_message_rasa_read_late_is_not_sent_twice(scripted):
    rasa, chat, _client, _app = scripted
    rasa.mode = "slow"  # answers after the gateway gave up: the tracker holds the answer
    assert is_degraded(await chat(DESCRIPTION))
    await asyncio.sleep(BUDGET_S * 3)
    rasa.mode = "ok"
    messages = await chat(CONTINUE_TITLE)
    assert rasa.received == [DESCRIPTION]
    assert messages[-1]["text"] == QUESTION


def user_turns(rasa: ScriptedRasa) -> List[str]:
    return [e["text"] for e in rasa.events if e["event"] == "user"]


async def test_a_turn_rasa_is_slow_on_is_stored_although_the_resident_got_the_degraded_reply(scripted):
    rasa, chat, _client, _app = scripted
    rasa.mode = "slow"  # answers after the resident's budget: the gateway must not hang up on it
    assert is_degraded(await chat(DESCRIPTION))
    await asyncio.sleep(BUDGET_S * 3)
    assert rasa.dropped == []
    assert user_turns(rasa) == [DESCRIPTION]


async def test_a_kept_message_reaches_rasa_even_if_the_resident_never_comes_back(scripted):
    rasa, chat, _client, app = scripted
    rasa.mode = "error"
    assert is_degraded(await chat(DESCRIPTION))
    rasa.mode, rasa.received = "ok", []
    for _ in range(40):  # the first background try comes after about a second
        if user_turns(rasa):
            break
        await asyncio.sleep(0.1)
    assert user_turns(rasa) == [DESCRIPTION]
    for _ in range(20):
        if not app[DEGRADED_KEY].delivering:
            break
        await asyncio.sleep(0.1)
    assert app[DEGRADED_KEY].delivering == 0
    # Coming back later, the resident gets Rasa's answer to it from the store, not a resend.
    messages = await chat(CONTINUE_TITLE)
    assert rasa.received == [DESCRIPTION]
    assert messages[-1]["text"] == QUESTION


async def wait_for(condition, timeout_s: float = 4.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def stored_turn_ids(rasa: ScriptedRasa) -> List[str]:
    return [e["metadata"].get("turn_id") for e in rasa.events if e["event"] == "user"]


@pytest.mark.parametrize("delivery", ["next turn", "background"])
async def test_the_same_text_twice_within_a_second_is_two_turns_and_the_kept_second_is_delivered(scripted, delivery):
    # make chaos: "/unsure", "/unsure" while a replica was killed. Matched by text and time,
    # the first one's user event made the kept second look stored: it was never sent again.
    rasa, chat, _client, app = scripted
    assert not is_degraded(await chat(UNSURE))  # stored
    rasa.mode = "lost"  # the second is read, never stored, and not answered within the wait
    assert is_degraded(await chat(UNSURE))
    assert user_turns(rasa) == [UNSURE]
    await wait_for(lambda: rasa.lost == [UNSURE])
    rasa.mode = "ok"
    if delivery == "next turn":
        messages = await chat(CONTINUE_TITLE)
        assert messages[-1]["text"] == QUESTION  # Rasa's own answer to the second one
    await wait_for(lambda: len(user_turns(rasa)) == 2 and not app[DEGRADED_KEY].delivering)
    assert user_turns(rasa) == [UNSURE, UNSURE]
    first_id, lost_id, resent_id = rasa.turn_ids
    assert lost_id == resent_id != first_id  # resent with the id it was first sent with
    assert stored_turn_ids(rasa) == [first_id, resent_id]
    await chat("是")  # nothing left to replay: no third copy before the next turn
    assert user_turns(rasa) == [UNSURE, UNSURE, "是"]


async def test_a_kept_turn_rasa_stored_late_is_not_resent_even_after_the_same_text(scripted):
    rasa, chat, _client, _app = scripted
    assert not is_degraded(await chat(DESCRIPTION))
    rasa.mode = "slow"  # stored, with its turn id, after the resident got the degraded reply
    assert is_degraded(await chat(DESCRIPTION))
    await wait_for(lambda: len(user_turns(rasa)) == 2)
    rasa.mode = "ok"
    messages = await chat(CONTINUE_TITLE)
    assert messages[-1]["text"] == QUESTION  # the second turn's stored answer
    assert rasa.received == [DESCRIPTION, DESCRIPTION]  # sent once each, never again
    assert stored_turn_ids(rasa) == rasa.turn_ids and len(set(rasa.turn_ids)) == 2


async def test_a_turn_stored_without_an_answer_is_sent_again_and_then_answered_from_its_latest_copy(scripted):
    rasa, chat, _client, app = scripted
    rasa.mode = "empty"
    assert is_degraded(await chat(DESCRIPTION))
    rasa.mode = "ok"  # the actions answer again: the background delivery resends it
    await wait_for(lambda: len(user_turns(rasa)) == 2 and not app[DEGRADED_KEY].delivering)
    messages = await chat(CONTINUE_TITLE)
    assert messages[-1]["text"] == QUESTION  # the answer stored after the resent copy
    assert rasa.received == [DESCRIPTION, DESCRIPTION]  # sent again once, not a third time
    assert len(set(rasa.turn_ids)) == 1


async def test_the_next_turn_waits_behind_a_turn_rasa_still_has(scripted):
    rasa, chat, _client, _app = scripted
    rasa.mode = "slow"
    assert is_degraded(await chat(DESCRIPTION))
    rasa.mode = "ok"
    messages = await chat("是")  # Rasa still has the description: "是" must not overtake it
    await asyncio.sleep(BUDGET_S * 4)
    assert user_turns(rasa)[0] == DESCRIPTION
    assert is_degraded(messages) or user_turns(rasa) == [DESCRIPTION, "是"]


async def test_still_down_keeps_everything_in_order(scripted):
    rasa, chat, _client, app = scripted
    rasa.mode = "error"
    await chat(DESCRIPTION)
    messages = await chat("是")
    assert is_degraded(messages) and messages[0]["text"].startswith("⚠️ 高危")
    kept = await app[DEGRADED_KEY].store.take("web:degraded-1")
    assert [p.message for p in kept] == [DESCRIPTION, "是"]


async def test_senders_keep_their_own_messages(scripted):
    rasa, chat, _client, _app = scripted
    rasa.mode = "error"
    await chat(DESCRIPTION, sender="web:a")
    rasa.mode, rasa.received = "ok", []
    await chat("你好", sender="web:b")
    assert rasa.received == ["你好"]


async def test_assess_needs_no_rasa(scripted):
    rasa, _chat, client, _app = scripted
    rasa.mode = "hang"
    response = await client.post("/api/v1/assess", json={"text": MONEY_GONE})
    assert response.status == 200
    verdict = await response.json()
    assert verdict["money_lost"] is True and verdict["risk_level"] == "high"
    assert "110" in {h["number"] for h in verdict["hotlines"]}


async def test_wechat_gets_the_degraded_reply_within_its_5_s(aiohttp_client, aiohttp_server, real_kb):
    from tests.test_wechat import AES_KEY, APP_ID, TOKEN, post_text, reply_fields

    rasa = ScriptedRasa()
    rasa.mode = "hang"
    server = await aiohttp_server(rasa.app())
    url = str(server.make_url("")).rstrip("/")
    settings = Settings.from_env({"WECHAT_TOKEN": TOKEN, "WECHAT_ENCODING_AES_KEY": AES_KEY, "WECHAT_APP_ID": APP_ID})
    app = create_app(GatewayConfig(url, url), kb=real_kb, settings=settings)  # the default 3 s wait
    client = await aiohttp_client(app)
    started = time.monotonic()
    response = await post_text(client, MONEY_GONE, 7001)
    elapsed = time.monotonic() - started
    content = reply_fields(await response.text())["Content"]
    assert response.status == 200 and elapsed < 5.0
    assert content.startswith("🚨") and "110" in content and "96110" in content
    assert content.endswith(f"1. {CONTINUE_TITLE}")  # the numbered option WeChat shows for the button
    rasa.mode = "ok"  # Rasa resumes and finishes the turn it had: stored once, nothing retyped
    response = await post_text(client, "1", 7002)  # "1" is 接着查: Rasa's answer to the kept message
    assert rasa.received == [MONEY_GONE] and user_turns(rasa) == [MONEY_GONE]
    assert "冒充公检法" in reply_fields(await response.text())["Content"]


# -- the kept messages: memory and Redis --------------------------------------------------------


async def test_the_memory_queue_is_bounded_per_sender():
    store = MemoryPendingStore(max_items=2, ttl_s=60)
    await store.push("s", [Pending(str(i), False, f"turn{i}") for i in range(3)])
    assert [p.message for p in await store.take("s")] == ["1", "2"]
    assert await store.take("s") == []


@pytest.fixture
async def redis_store():
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    store = RedisPendingStore(url, max_items=2, ttl_s=60, prefix=f"test:pending:{uuid.uuid4().hex}:")
    yield store
    await store.close()


async def test_the_redis_queue_is_bounded_expires_and_is_taken_once(redis_store):
    await redis_store.push("s", [Pending("一", True, "turna"), Pending("二", False, "turnb")])
    await redis_store.push("s", [Pending("三", False, "turnc")])
    assert 0 < await redis_store._redis.ttl(redis_store.prefix + "s") <= 60
    assert await redis_store.take("s") == [Pending("二", False, "turnb"), Pending("三", False, "turnc")]
    assert await redis_store.take("s") == []


async def test_a_message_kept_before_turn_ids_is_read_back_and_delivered(redis_store, scripted):
    rasa, chat, _client, app = scripted
    sender = "web:degraded-1"
    old = {"message": DESCRIPTION, "sent_at": time.time() - 5, "maybe_delivered": True}  # the format before ids
    await redis_store._redis.rpush(redis_store.prefix + sender, json.dumps(old, ensure_ascii=False))
    app[DEGRADED_KEY].store = redis_store
    messages = await chat(CONTINUE_TITLE, sender=sender)
    assert messages[-1]["text"] == QUESTION  # not found in the tracker by any id: sent
    assert rasa.received == [DESCRIPTION] and rasa.turn_ids[0].isalpha()
    assert stored_turn_ids(rasa) == rasa.turn_ids
    assert await redis_store.take(sender) == []


# -- fault tests against the real stack ---------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "current.tar.gz"
DEGRADED_WITHIN_S = 4.0
READY_TIMEOUT_S = 420.0


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class RealStack:
    """The action server and Rasa as `make run` starts them, each in its own process group."""

    def __init__(self, logs: Path) -> None:
        from bot.runtime import stack

        self.env = stack.environment()
        self.settings = Settings.from_env(self.env)
        self.commands = stack.commands(self.settings)
        self.logs = logs
        self.procs: Dict[str, subprocess.Popen] = {}
        self.health = {"actions": f"{self.settings.actions_base_url}/health",
                       # Rasa's /status needs its --auth-token (bot/runtime/stack.py)
                       "rasa": f"{self.settings.rasa_base_url}/status?token={self.settings.rasa_auth_token}"}

    def start(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(self.commands[name], cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, *names: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all(_ready(self.health[n]) for n in names):
            for n in names:
                if self.procs[n].poll() is not None:
                    raise RuntimeError(f"{n} exited; see {self.logs / (n + '.log')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{names} not ready after {READY_TIMEOUT_S} s")
            time.sleep(1)

    def signal(self, name: str, sig: int) -> None:
        os.killpg(self.procs[name].pid, sig)

    def kill(self, name: str) -> None:
        self.signal(name, signal.SIGKILL)
        self.procs[name].wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGCONT)
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    if not MODEL.exists():
        pytest.skip(f"no trained model at {MODEL} (make train)")
    stack = RealStack(tmp_path_factory.mktemp("stack"))
    for port in (stack.settings.rasa_port, stack.settings.actions_port):
        if _ready(f"http://127.0.0.1:{port}/status") or _ready(f"http://127.0.0.1:{port}/health"):
            pytest.skip(f"port {port} is taken: export RASA_PORT / ACTIONS_PORT of your own")
    try:
        stack.start("actions")
        stack.start("rasa")
        stack.wait_ready("actions", "rasa")
        settings = Settings.from_env({**stack.env, "REDIS_URL": ""})
        # From the settings: with Rasa's --auth-token, as the real gateway (a tracker read
        # refused with 401 would make every kept message look unread and be sent again).
        gateway = LiveGateway(lambda _url: create_app(
            GatewayConfig.from_settings(settings), settings=settings), timeout=60).start()
        stack.url = gateway.url
        stack.timings = []
        _post(stack.url, "web:warm-up", DESCRIPTION, timeout=60)  # the first turn loads the pipelines
        yield stack
        gateway.stop()
        if stack.timings:
            print(f"\ndegraded replies: n={len(stack.timings)} median={statistics.median(stack.timings):.2f}s "
                  f"max={max(stack.timings):.2f}s")
    finally:
        stack.stop()


def _post(url: str, sender: str, message: str, timeout: float = 20) -> List[Dict[str, Any]]:
    body = json.dumps({"sender": sender, "message": message, "channel": "widget"}).encode()
    request = urllib.request.Request(f"{url}/api/v1/chat", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        assert response.status == 200
        return json.load(response)


def _degraded_turn(stack: RealStack, sender: str, message: str) -> List[Dict[str, Any]]:
    started = time.monotonic()
    messages = _post(stack.url, sender, message)
    elapsed = time.monotonic() - started
    stack.timings.append(elapsed)
    assert is_degraded(messages), texts(messages)
    assert elapsed < DEGRADED_WITHIN_S, f"degraded reply after {elapsed:.2f} s"
    assert "110" in texts(messages) or "96110" in texts(messages)
    return messages


def _user_texts(stack: RealStack, sender: str) -> List[str]:
    url = f"{stack.settings.rasa_base_url}/conversations/{sender}/tracker?include_events=AFTER_RESTART&token={stack.settings.rasa_auth_token}"  # Rasa runs with --auth-token
    with urllib.request.urlopen(url, timeout=20) as response:
        return [e.get("text") for e in json.load(response)["events"] if e.get("event") == "user"]


def _asks_a_question(messages: List[Dict[str, Any]]) -> bool:
    return not is_degraded(messages) and any(m.get("buttons") for m in messages)


RECOVERY_S = 120.0  # a resumed or restarted part first works off its backlog / loads its pipelines


def _answered(stack: RealStack, sender: str, message: str) -> List[Dict[str, Any]]:
    """`message`, then 「接着查」 as a resident would tap it, until Rasa itself answers.

    Right after SIGCONT or a restart the first turns can take longer than 3 s again (the
    backlog, the action server loading spaCy); those get the degraded reply and stay kept."""
    deadline = time.monotonic() + RECOVERY_S
    messages = _post(stack.url, sender, message, timeout=60)
    while is_degraded(messages):
        assert time.monotonic() < deadline, "Rasa never answered the kept message"
        time.sleep(2)
        messages = _post(stack.url, sender, CONTINUE_TITLE, timeout=60)
    return messages


@pytest.mark.parametrize("component", ["actions", "rasa"])
def test_paused_component_gets_a_degraded_reply_and_the_check_goes_on_after_sigcont(real, component):
    sender = f"web:paused-{component}-{uuid.uuid4().hex[:8]}"
    real.signal(component, signal.SIGSTOP)
    try:
        first = _degraded_turn(real, sender, DESCRIPTION)
        assert first[0]["text"].startswith("⚠️ 高危")  # the type/risk line, from bot.kb
        for i in range(2):  # a few more, for the median
            _degraded_turn(real, f"{sender}-{i}", MONEY_GONE)
    finally:
        real.signal(component, signal.SIGCONT)
    messages = _answered(real, sender, CONTINUE_TITLE)
    assert _asks_a_question(messages), texts(messages)  # the kept description, answered
    assert _user_texts(real, sender).count(DESCRIPTION) == 1  # read once, never sent twice
    asked = [m["text"] for m in messages if m.get("buttons")][-1]
    after = _answered(real, sender, "/affirm")  # 「是」 to that question
    # The same check went on (the next question or the verdict), it did not start over.
    assert not is_degraded(after) and asked not in texts(after) and "听起来像" not in texts(after)
    assert _user_texts(real, sender).count(DESCRIPTION) == 1


def test_money_gone_while_paused_gets_the_urgent_steps_first(real):
    real.signal("actions", signal.SIGSTOP)
    try:
        messages = _degraded_turn(real, f"web:gone-{uuid.uuid4().hex[:8]}", MONEY_GONE)
    finally:
        real.signal("actions", signal.SIGCONT)
    assert messages[0]["text"].startswith("🚨") and "110" in messages[0]["text"].splitlines()[1]


def test_killed_action_server_degraded_then_answered_after_restart(real):
    sender = f"web:killed-actions-{uuid.uuid4().hex[:8]}"
    real.kill("actions")
    try:
        _degraded_turn(real, sender, DESCRIPTION)
    finally:
        real.start("actions")
        real.wait_ready("actions")
    messages = _answered(real, sender, CONTINUE_TITLE)
    assert _asks_a_question(messages), texts(messages)


def test_killed_rasa_degraded_then_answered_after_restart(real):
    sender = f"web:killed-rasa-{uuid.uuid4().hex[:8]}"
    real.kill("rasa")
    try:
        _degraded_turn(real, sender, DESCRIPTION)
        _degraded_turn(real, sender, "是")
    finally:
        real.start("rasa")
        real.wait_ready("rasa")
    messages = _answered(real, sender, CONTINUE_TITLE)
    assert messages, "no answer after the restart"
    assert _user_texts(real, sender)[:2] == [DESCRIPTION, "是"]
