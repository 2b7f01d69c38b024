"""Anonymity of the statistics, end to end through the real gateway.

Self-checks with distinctive text and sender ids go through `/api/v1/assess` and
`/api/v1/chat` (a fake Rasa replies with a verdict custom payload); afterwards no
text, no sender id and no timestamp may be found in `/api/v1/stats`, the dashboard,
the CSV export or the raw contents of the store (SQLite file, Redis keys), while the
counts themselves did arrive.
"""
from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path

import pytest

from bot.gateway import auth
from bot.gateway.app import GatewayConfig, create_app
from bot.gateway.stats import STATS_STORE_KEY
from tests.fake_rasa import fake_rasa_app

TOKEN = "anonymity-token"
PASSWORD = "a long enough password"
REDIS_URL = "redis://127.0.0.1:6379/15"
NAME, PHONE, ACCOUNT, PLACE = "张秀英", "13912345678", "ZXQ7788", "幸福里小区"
TEXT = f"我叫{NAME}，住{PLACE}，电话{PHONE}。对方自称警官，让我把钱转到安全账户{ACCOUNT}，还要验证码"
SENDER = "resident-secret-4711"
CHAT_VERDICT = {
    "scam_type": "police_impersonation", "scam_name": "冒充公检法及政府机关（含医保、社保）", "risk_level": "high",
    "confidence": 0.9, "alternatives": [],
    "red_flags": [{"id": "pi_safe_account", "description": "安全账户", "quote": f"转到安全账户{ACCOUNT}"}],
    "indicators": [{"kind": "phone", "value": PHONE}], "advice": ["挂断电话"], "hotlines": [], "questions": [],
    "money_lost": False,
}
SECRETS = [NAME, PHONE, ACCOUNT, PLACE, SENDER, "4711", "secret", "验证码", "安全账户", "警官"]
# Anything finer than a week: a date, a time of day, an epoch number.
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}|\b1[6-9]\d{8}\b")
CHECKS_PER_PATH = 6


@pytest.fixture(params=["sqlite", "redis"])
async def gateway(request, aiohttp_client, aiohttp_server, tmp_path: Path, monkeypatch, mini_kb):
    prefix = f"test:anon:{uuid.uuid4().hex}:"
    if request.param == "redis":
        redis = pytest.importorskip("redis")
        probe = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        try:
            probe.ping()
        except redis.exceptions.ConnectionError as err:
            pytest.skip(f"Redis not reachable: {err}")
        monkeypatch.setenv("STATS_REDIS_URL", REDIS_URL)
        monkeypatch.setenv("STATS_REDIS_PREFIX", prefix)
    else:
        monkeypatch.delenv("STATS_REDIS_URL", raising=False)
        monkeypatch.delenv("REDIS_URL", raising=False)
        monkeypatch.setenv("STATS_DB", str(tmp_path / "stats.db"))
    operators = tmp_path / "operators.yml"
    auth.save_operator(operators, "li", PASSWORD, "李社工", ["outreach"])
    monkeypatch.setenv("OPERATORS_FILE", str(operators))
    replies = [{"recipient_id": SENDER, "text": "⚠️ 高危 · 冒充公检法"}, {"recipient_id": SENDER, "custom": {"verdict": CHAT_VERDICT}}]
    rasa = await aiohttp_server(fake_rasa_app(replies))
    url = str(rasa.make_url("")).rstrip("/")
    client = await aiohttp_client(create_app(GatewayConfig(url, url, frozenset({TOKEN})), kb=mini_kb))
    client.kind, client.prefix, client.db = request.param, prefix, tmp_path / "stats.db"
    yield client
    if request.param == "redis":
        import redis

        r = redis.Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(match=prefix + "*"))
        if keys:
            r.delete(*keys)
        r.close()


async def raw_store_contents(client) -> str:
    """Everything the store holds, as text: every SQLite row, or every Redis key with its fields."""
    if client.kind == "sqlite":
        conn = sqlite3.connect(client.db)
        rows = [" ".join(map(str, r)) for r in conn.execute("SELECT * FROM check_counts")]
        schema = [r[0] for r in conn.execute("SELECT sql FROM sqlite_master") if r[0]]
        conn.close()
        return "\n".join(rows + schema)
    redis = client.app[STATS_STORE_KEY].client
    lines = []
    async for key in redis.scan_iter(match=client.prefix + "*"):
        kind = await redis.type(key)
        value = await redis.hgetall(key) if kind == "hash" else await redis.smembers(key)
        ttl = await redis.ttl(key)
        lines.append(f"{key} {value} ttl={ttl}")
    return "\n".join(lines)


def assert_anonymous(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} reached {where}"
    found = TIMESTAMP.findall(text)
    assert not found, f"timestamps {found} reached {where}"


async def test_no_text_sender_or_time_is_reachable_from_any_stats_output(gateway):
    client = gateway
    for _ in range(CHECKS_PER_PATH):
        resp = await client.post("/api/v1/assess", json={"text": TEXT})
        assert resp.status == 200
        resp = await client.post("/api/v1/chat", json={"sender": SENDER, "message": TEXT, "channel": "widget"})
        assert resp.status == 200 and any("custom" in m for m in await resp.json())

    api = await client.get("/api/v1/stats", headers={"Authorization": f"Bearer {TOKEN}"})
    assert api.status == 200
    body = await api.json()
    assert body["total"] == 2 * CHECKS_PER_PATH  # the checks were counted …
    assert body["by_channel"] == {"widget": CHECKS_PER_PATH, "wechat": "<5", "api": CHECKS_PER_PATH}
    assert body["by_type"]["police_impersonation"] == 2 * CHECKS_PER_PATH
    assert_anonymous("/api/v1/stats", await api.text())  # … and nothing else

    login = await client.post("/console/login", data={"username": "li", "password": PASSWORD, "next": "/outreach/stats"},
                              allow_redirects=False)
    assert login.status == 302
    dashboard = await client.get("/outreach/stats")
    assert dashboard.status == 200
    html = await dashboard.text()
    assert "共完成自查 12 次" in html
    # the page holds the filter's own dates (inputs and the CSV link); nothing else may look like a date
    html = re.sub(r'(value|href)="[^"]*"', "", html)
    assert_anonymous("the dashboard", html)

    csv = await client.get("/outreach/stats.csv")
    assert csv.status == 200
    text = await csv.text()
    assert "police_impersonation" in text
    assert_anonymous("the CSV export", text)

    raw = await raw_store_contents(client)
    assert "police_impersonation" in raw
    assert_anonymous(f"the {client.kind} store", raw)
