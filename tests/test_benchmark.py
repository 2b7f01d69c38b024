"""bot.quality.benchmark: its pure helpers, and its operator/outreach client against a real gateway.

No timing is asserted (machines are noisy); the point is that the benchmark talks to the
gateway the way the console does (login, websocket with our Origin, bearer token) and
that a run is isolated from var/ and from the caller's Redis or Rasa settings.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.quality import benchmark
from bot.quality.benchmark import (
    Credentials,
    check_pdf,
    desk_message,
    desk_reply_view,
    isolated_settings,
    measure_operator,
    percentile,
    summarise,
)
from bot.gateway import auth
from bot.gateway.app import GatewayConfig, create_app
from bot.runtime.context import reset_blocklist
from bot.settings import Settings
from tests.fake_rasa import fake_rasa_app

CREDENTIALS = Credentials(api_token="bench-token", username="bench", password="a long enough password")


# -- pure helpers -------------------------------------------------------------------------------


def test_percentile_and_summary_of_known_samples():
    samples = [float(x) for x in range(1, 101)]
    assert percentile(samples, 50) == 51.0 and percentile(samples, 95) == 95.0 and percentile(samples, 100) == 100.0
    assert summarise([3.0, 1.0, 2.0]) == {"n": 3, "p50_ms": 2.0, "p95_ms": 3.0, "p99_ms": 3.0, "max_ms": 3.0}


def test_isolated_settings_put_every_store_in_the_temp_dir(tmp_path: Path):
    env = {"PATH": "/usr/bin", "REDIS_URL": "redis://shared:6379/0", "STATS_REDIS_URL": "redis://x",
           "RASA_URL": "http://elsewhere:5005", "ACTIONS_URL": "http://elsewhere:5055",
           "API_TOKENS": "someone-elses", "CASES_URL": "sqlite:///var/cases.db"}
    settings = isolated_settings(env, tmp_path, CREDENTIALS)
    assert settings["PATH"] == "/usr/bin"
    for dropped in ("REDIS_URL", "STATS_REDIS_URL", "RASA_URL", "ACTIONS_URL"):
        assert dropped not in settings
    assert settings["API_TOKENS"] == "bench-token"
    assert settings["CASES_URL"] == f"sqlite:///{tmp_path}/cases.db"  # four slashes: an absolute path
    for name in ("STATS_DB", "BLOCKLIST_FILE", "OPERATORS_FILE"):
        assert Path(settings[name]).parent == tmp_path
    assert env["CASES_URL"] == "sqlite:///var/cases.db"  # the caller's mapping is left alone


def test_new_credentials_are_random_and_long_enough_for_an_account():
    first, second = benchmark.new_credentials(), benchmark.new_credentials()
    assert first.api_token != second.api_token and first.password != second.password
    assert len(first.password) >= 8 and first.username == benchmark.BENCH_OPERATOR


def test_desk_message_has_the_pages_fields():
    assert desk_message(7, "笔记") == {"seq": 7, "notes": "笔记", "answers": {}, "channel": "phone",
                                      "claimed_identity": ""}


def test_desk_reply_view_waits_for_its_own_seq():
    view = {"risk": {"level": "high"}}
    assert desk_reply_view({"type": "verdict", "seq": 3, "view": view}, 3) == view
    assert desk_reply_view({"type": "verdict", "seq": 2, "view": view}, 3) is None


@pytest.mark.parametrize("message, words", [
    ({"type": "error", "seq": 1, "status": 400, "error": "'notes' must be a string"}, "400"),
    ({"type": "expired"}, "expired"),
    ({"type": "verdict", "seq": 1, "view": None}, "no desk view"),
    ({"type": "hello"}, "unexpected"),
])
def test_desk_reply_view_stops_on_anything_but_a_verdict(message, words):
    with pytest.raises(RuntimeError, match=words):
        desk_reply_view(message, 1)


def test_check_pdf():
    check_pdf(b"%PDF-1.7\n...", "tip sheet")
    with pytest.raises(RuntimeError, match="tip sheet is not a PDF"):
        check_pdf(b"<html>login</html>", "tip sheet")


# -- the operator part against the real gateway (fake Rasa, temp stores) ------------------------


@pytest.fixture
async def gateway(tmp_path: Path, monkeypatch, real_kb, aiohttp_server):
    auth.save_operator(tmp_path / "operators.yml", CREDENTIALS.username, CREDENTIALS.password, "压测账号")
    monkeypatch.setenv("OPERATORS_FILE", str(tmp_path / "operators.yml"))
    monkeypatch.setenv("SESSION_SECRET", Fernet.generate_key().decode())
    monkeypatch.setenv("BLOCKLIST_FILE", str(tmp_path / "blocklist.csv"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("STATS_REDIS_URL", raising=False)
    reset_blocklist()
    rasa = await aiohttp_server(fake_rasa_app())
    rasa_url = str(rasa.make_url("")).rstrip("/")
    config = GatewayConfig(rasa_url=rasa_url, actions_url=rasa_url, api_tokens=frozenset({CREDENTIALS.api_token}))
    server = await aiohttp_server(create_app(config, kb=real_kb))
    yield str(server.make_url("")).rstrip("/")
    reset_blocklist()


async def test_measure_operator_reports_every_new_key(gateway):
    report = await measure_operator(gateway, CREDENTIALS, rounds=5, pdf_rounds=1)
    assert report["cases_create_sequential"]["n"] == 5
    assert report["cases_list_limit50"]["n"] == 1 and report["cases_list_limit50"]["cases_stored"] == 5
    assert report["console_ws_round_trip"]["n"] == 5
    assert report["stats_sequential"]["n"] == 1
    assert report["pdf_tip_sheet"]["n"] == 1 and report["pdf_tip_sheet"]["first_ms"] > 0
    assert report["pdf_tip_sheet"]["path"] == "/outreach/packs/elderly.pdf"
    assert report["pdf_case_ms"] > 0


async def test_measure_operator_fails_loudly_with_a_wrong_token(gateway):
    wrong = Credentials("not-the-token", CREDENTIALS.username, CREDENTIALS.password)
    with pytest.raises(RuntimeError, match="answered 401"):
        await measure_operator(gateway, wrong, rounds=1, pdf_rounds=1)


async def test_measure_operator_fails_loudly_with_a_wrong_password(gateway):
    wrong = Credentials(CREDENTIALS.api_token, CREDENTIALS.username, "not the password at all")
    with pytest.raises(RuntimeError, match="/console/login answered 401"):
        await measure_operator(gateway, wrong, rounds=1, pdf_rounds=1)


# -- the rate-limit phase (issue 13) against the real gateway and a fake Rasa ----------------------


async def test_measure_rate_limits_floods_one_sender_and_times_the_others(aiohttp_server, mini_kb, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    rasa = await aiohttp_server(fake_rasa_app())
    rasa_url = str(rasa.make_url("")).rstrip("/")
    settings = Settings.from_env({"OPERATORS_FILE": "/nonexistent/operators.yml", "RATE_LIMIT_CHAT_SENDER": "5/minute",
                                  "RATE_LIMIT_TARPIT_S": "0.1"})
    server = await aiohttp_server(create_app(GatewayConfig(rasa_url, rasa_url), kb=mini_kb, settings=settings))
    base = str(server.make_url("")).rstrip("/")
    report = await benchmark.measure_rate_limits(base, rounds=1, flood_concurrency=4, sender_limit="5/minute")
    statuses = report["flood"]["statuses"]
    assert statuses.get("200", 0) <= 5 and statuses["429"] > 0  # the flood is refused …
    assert report["flood"]["retry_after_and_hotlines_in_every_429"] is True
    # … while every other sender's turn was answered (a 429 there would have raised), from its own address
    assert report["others_unloaded"]["n"] == report["others_during_flood"]["n"] == 4 * len(benchmark.CHAT_SCRIPT)
    assert report["others_p95_ratio"] > 0 and isinstance(report["others_p95_within_1_5x"], bool)


def test_the_benchmark_lifts_only_the_address_limits(tmp_path: Path):
    settings = isolated_settings({}, tmp_path, CREDENTIALS)
    assert settings["RATE_LIMIT_CHAT_ADDRESS"] == settings["RATE_LIMIT_ASSESS_ADDRESS"] == "100000/minute"
    assert "RATE_LIMIT_CHAT_SENDER" not in settings
