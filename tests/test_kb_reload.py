"""Issue 16 item 1: a KB edit served without a restart (POST /api/v1/kb/reload, the action server).

The gateway runs on a copy of data/kb (settings KB_DIR) against a stand-in Rasa; the
action server's side is the real `action_kb_status` run by rasa-sdk's own executor behind
a local HTTP server, the way `rasa run actions` runs it.
"""
import asyncio
import shutil
from pathlib import Path

import pytest
from aiohttp import web
from rasa_sdk.executor import ActionExecutor

from actions.kb_status import ActionKbStatus
from bot.gateway.app import GatewayConfig, create_app
from bot.kb import DEFAULT_KB_DIR, KnowledgeBaseError
from bot.kb.live import LiveKb, kb_version, load_snapshot
from bot.runtime import context
from bot.settings import Settings
from tests.conftest import edit_yaml
from tests.fake_rasa import fake_rasa_app

TOKEN = "reload-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# A phrase no red flag knows yet; the edit below makes it one of pi_warrant's patterns.
NEW_SCRIPT = "对方说要给我发一张紫色协查函"
WARRANT = 2  # red_flags.2 of police_impersonation.yml is pi_warrant


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(DEFAULT_KB_DIR, target)
    return target


def police_file(kb_dir: Path) -> Path:
    return kb_dir / "scam_types" / "police_impersonation.yml"


def add_warrant_pattern(kb_dir: Path, pattern: str = "紫色协查函") -> None:
    def change(data):
        assert data["red_flags"][WARRANT]["id"] == "pi_warrant"
        data["red_flags"][WARRANT]["patterns"].append(pattern)

    edit_yaml(police_file(kb_dir), change)


def break_warrant_weight(kb_dir: Path) -> None:
    edit_yaml(police_file(kb_dir), lambda data: data["red_flags"][WARRANT].update(weight="heavy"))


@pytest.fixture
async def action_server(aiohttp_server, kb_dir, monkeypatch):
    """The action server's webhook with rasa-sdk's executor; its KB follows `kb_dir`."""
    monkeypatch.setattr(context, "_live_kb", LiveKb(kb_dir, check_every_s=0))
    executor = ActionExecutor()
    executor.register_action(ActionKbStatus)

    async def webhook(request: web.Request) -> web.Response:
        return web.json_response(await executor.run(await request.json()))

    app = fake_rasa_app()  # also answers Rasa's /model/parse and /status
    app.router.add_post("/webhook", webhook)
    return await aiohttp_server(app)


@pytest.fixture
async def client(aiohttp_client, action_server, kb_dir, monkeypatch):
    monkeypatch.setenv("KB_DIR", str(kb_dir))
    # Ten clients on one loopback address: the per-address limit is not what is tested here.
    monkeypatch.setenv("RATE_LIMIT_ASSESS_ADDRESS", "100000/minute")
    url = str(action_server.make_url("")).rstrip("/")
    config = GatewayConfig(url, url, api_tokens=frozenset({TOKEN}))
    return await aiohttp_client(create_app(config, settings=Settings()))


async def assess(client, text: str = NEW_SCRIPT) -> dict:
    response = await client.post("/api/v1/assess", json={"text": text})
    assert response.status == 200
    return await response.json()


def flag_ids(verdict: dict) -> list:
    return [f["id"] for f in verdict["red_flags"]]


# -- the pure part ---------------------------------------------------------------------


def test_the_version_is_a_hash_of_the_files_and_changes_with_an_edit(kb_dir):
    before = kb_version(kb_dir)
    assert before == kb_version(DEFAULT_KB_DIR)  # same files, same version, in any process
    add_warrant_pattern(kb_dir)
    assert kb_version(kb_dir) != before


def test_refresh_follows_an_edit_and_keeps_the_running_kb_when_the_files_are_broken(kb_dir):
    live = LiveKb(kb_dir, check_every_s=0)
    first = live.refresh()
    assert live.refresh() is first  # nothing changed: the same object, no reading
    add_warrant_pattern(kb_dir)
    edited = live.refresh()
    assert edited.version != first.version
    assert "紫色协查函" in edited.kb.red_flags["pi_warrant"][1].patterns
    break_warrant_weight(kb_dir)
    assert live.refresh() is edited


def test_refresh_looks_at_the_files_once_per_interval_and_serves_an_edit_after_it(kb_dir, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("bot.kb.live.time.monotonic", lambda: clock[0])
    live = LiveKb(kb_dir, check_every_s=1.0)
    first = live.refresh()
    add_warrant_pattern(kb_dir)
    clock[0] += 0.5
    looked = []
    monkeypatch.setattr("bot.kb.live.kb_signature", lambda d: looked.append(d) or ())
    assert live.refresh() is first and looked == []  # within the interval: no stat at all
    monkeypatch.undo()
    monkeypatch.setattr("bot.kb.live.time.monotonic", lambda: clock[0])
    clock[0] += 0.6
    edited = live.refresh()
    assert "紫色协查函" in edited.kb.red_flags["pi_warrant"][1].patterns


def test_reload_of_a_broken_kb_raises_the_loaders_error_and_keeps_the_snapshot(kb_dir):
    live = LiveKb(kb_dir)
    running = live.snapshot
    break_warrant_weight(kb_dir)
    with pytest.raises(KnowledgeBaseError, match=r"police_impersonation\.yml: red_flags\.2\.weight"):
        live.reload()
    assert live.snapshot is running
    assert load_snapshot(DEFAULT_KB_DIR).types == running.types == 20


# -- the gateway and the action server ---------------------------------------------------


async def test_a_red_flag_edit_changes_the_assess_result_after_reload_without_a_restart(client, kb_dir):
    before = await assess(client)
    assert "pi_warrant" not in flag_ids(before)
    old_version = (await (await client.get("/healthz")).json())["kb"]["gateway"]

    add_warrant_pattern(kb_dir)
    assert "pi_warrant" not in flag_ids(await assess(client))  # not served before the reload call
    response = await client.post("/api/v1/kb/reload", headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert body["version"] == kb_version(kb_dir) != old_version
    assert body["types"] == 20
    assert body["processes"] == {"gateway": body["version"], "actions": body["version"]}

    after = await assess(client)
    assert "pi_warrant" in flag_ids(after)
    assert after["risk_level"] == "high"
    health = await (await client.get("/healthz")).json()
    assert health["kb"] == {"gateway": body["version"], "actions": body["version"]}


async def test_a_broken_kb_is_refused_naming_file_and_field_and_old_verdicts_stay(client, kb_dir):
    text = "自称警察，说我涉嫌洗钱，要把钱转到安全账户"
    before = await assess(client, text)
    version = (await (await client.get("/healthz")).json())["kb"]["gateway"]

    break_warrant_weight(kb_dir)
    response = await client.post("/api/v1/kb/reload", headers=AUTH)
    assert response.status == 422
    error = (await response.json())["error"]
    assert "police_impersonation.yml" in error and "red_flags.2.weight" in error

    assert await assess(client, text) == before
    health = await (await client.get("/healthz")).json()
    # The action server, which follows the files by itself, keeps its running KB too.
    assert health["kb"] == {"gateway": version, "actions": version}


async def test_reload_needs_a_token(client):
    assert (await client.post("/api/v1/kb/reload")).status == 401
    assert (await client.post("/api/v1/kb/reload", headers={"Authorization": "Bearer nope"})).status == 401


async def test_ten_concurrent_clients_see_no_failed_request_during_reloads(client, kb_dir):
    failures, verdicts = [], []  # verdicts: (started after the first reload answered, flag seen)
    done, reloaded = asyncio.Event(), asyncio.Event()

    async def resident() -> None:
        while not done.is_set():
            started_after = reloaded.is_set()
            response = await client.post("/api/v1/assess", json={"text": NEW_SCRIPT})
            if response.status != 200:
                failures.append(response.status)
                continue
            verdicts.append((started_after, "pi_warrant" in flag_ids(await response.json())))

    residents = [asyncio.create_task(resident()) for _ in range(10)]
    await asyncio.sleep(0.3)
    add_warrant_pattern(kb_dir)
    statuses = [(await client.post("/api/v1/kb/reload", headers=AUTH)).status]
    reloaded.set()
    statuses += [(await client.post("/api/v1/kb/reload", headers=AUTH)).status for _ in range(2)]
    await asyncio.sleep(0.3)
    done.set()
    await asyncio.gather(*residents)

    assert statuses == [200, 200, 200]
    assert failures == []
    assert len(verdicts) > 50
    assert any(not after and not flag for after, flag in verdicts)  # the old KB served before
    assert all(flag for after, flag in verdicts if after)  # the new one on every later request


async def test_make_reload_prints_the_version_or_fails_with_the_loaders_message(client, kb_dir, capsys):
    from bot.runtime import reload as reload_cli

    url = str(client.make_url("")).rstrip("/")
    run = asyncio.get_running_loop().run_in_executor
    add_warrant_pattern(kb_dir)
    assert await run(None, reload_cli.main, ["--url", url, "--token", TOKEN]) == 0
    assert kb_version(kb_dir) in capsys.readouterr().out
    break_warrant_weight(kb_dir)
    assert await run(None, reload_cli.main, ["--url", url, "--token", TOKEN]) == 1
    assert "red_flags.2.weight" in capsys.readouterr().err
    assert await run(None, reload_cli.main, ["--url", url, "--token", ""]) == 2
