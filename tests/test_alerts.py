"""Community alerts without a server: validation, who an alert reaches, the texts, the stores."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio

from bot.alerts import EVERYONE, AlertValidationError, PushProgress, new_alert, reaches
from bot.alerts.models import MAX_DAYS, Alert
from bot.alerts.push import is_transient, subscriber_ref
from bot.alerts.sqlite_store import SqliteAlertStore
from bot.alerts.texts import NO_ALERTS_TEXT, chat_text, parse_subscription, push_text

TYPES = ["police_impersonation", "customer_service_impersonation", "none", "unknown"]
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
GOOD = {"title": "冒充医保局来电", "text": "说医保卡被冻结，要转接警官。挂断，打 96110。",
        "scam_type": "police_impersonation", "audience": "老年人"}
REDIS_URL = os.environ.get("TEST_ALERTS_REDIS_URL", "redis://127.0.0.1:6379/8")


def alert(**changes) -> Alert:
    return new_alert({**GOOD, **changes}, TYPES, now=NOW)


# -- validation ----------------------------------------------------------------------------

def test_a_good_alert_gets_defaults_for_what_was_not_said():
    made = new_alert({"title": " 新骗局 ", "text": "内容"}, TYPES, now=NOW)
    assert (made.title, made.scam_type, made.audience) == ("新骗局", "unknown", EVERYONE)
    assert made.expires_at == NOW + timedelta(days=14) and made.created_at == NOW
    assert len(made.id) == 12


@pytest.mark.parametrize("changes, field, words", [
    ({"title": ""}, "title", "must not be empty"),
    ({"title": "   "}, "title", "must not be empty"),
    ({"title": "长" * 41}, "title", "too long: 41 characters (max 40)"),
    ({"text": "字" * 501}, "text", "max 500"),
    ({"text": 12}, "text", "must be a string"),
    ({"text": "a\x00b"}, "text", "NUL"),
    ({"scam_type": "lottery"}, "scam_type", "unknown scam type 'lottery'"),
    ({"scam_type": "none"}, "scam_type", "'none' means no scam"),
    ({"audience": "外卖员"}, "audience", "must be one of 老年人, 家长, 学生, 所有人"),
    ({"expires_at": "2026-12-01T10:00:00+08:00"}, "expires_at", "must be in the future"),
    ({"expires_at": (NOW + timedelta(days=MAX_DAYS, minutes=1)).isoformat()}, "expires_at", "at most 90 days"),
    ({"expires_at": "2026-12-20T10:00:00"}, "expires_at", "needs a time zone"),
    ({"expires_at": "下周五"}, "expires_at", "not a date-time"),
])
def test_a_bad_field_is_refused_with_its_name_and_why(changes, field, words):
    with pytest.raises(AlertValidationError) as err:
        alert(**changes)
    assert err.value.field == field and words in str(err.value)


def test_a_missing_title_is_named():
    with pytest.raises(AlertValidationError, match="title: required"):
        new_alert({"text": "x"}, TYPES, now=NOW)


def test_audience_slugs_and_a_zulu_expiry_are_accepted():
    made = alert(audience="students", expires_at="2026-12-31T15:59:59Z")
    assert made.audience == "学生" and made.expires_at == datetime(2026, 12, 31, 15, 59, 59, tzinfo=timezone.utc)


def test_an_alert_is_active_until_it_expires():
    made = alert(expires_at=(NOW + timedelta(hours=1)).isoformat())
    assert made.is_active(NOW) and made.is_active(NOW + timedelta(minutes=59))
    assert not made.is_active(NOW + timedelta(hours=1))


@pytest.mark.parametrize("alert_for, person, expected", [
    ("老年人", "老年人", True), ("老年人", "学生", False), ("所有人", "学生", True),
    ("家长", "所有人", True), ("家长", None, True),
])
def test_who_an_alert_reaches(alert_for, person, expected):
    assert reaches(alert_for, person) is expected


# -- texts -----------------------------------------------------------------------------------

def test_chat_text_names_the_type_first_and_ends_with_96110():
    names = {"police_impersonation": "冒充公检法"}.get
    text = chat_text([alert(), alert(title="第二条", scam_type="unknown")], lambda t: names(t) or "")
    lines = text.split("\n")
    assert lines[1] == "1. 【冒充公检法】冒充医保局来电" and lines[3] == "2. 第二条"
    assert "96110" in lines[-1]
    assert chat_text([], str) == NO_ALERTS_TEXT and "96110" in NO_ALERTS_TEXT


def test_the_push_text_says_what_to_do_and_how_to_stop_it():
    text = push_text(alert(), lambda t: "冒充公检法")
    assert text.startswith("⚠️ 反诈预警 · 【冒充公检法】冒充医保局来电")
    assert "110" in text and "96110" in text and "退订" in text


@pytest.mark.parametrize("content, subscribe, audience", [
    ("订阅预警", True, EVERYONE), ("订阅预警 老年人", True, "老年人"), ("订阅预警家长", True, "家长"),
    ("訂閱預警 学生", True, "学生"), ("订阅预警 外星人", True, None), ("退订", False, EVERYONE),
    ("取消订阅。", False, EVERYONE),
])
def test_subscription_commands(content, subscribe, audience):
    command = parse_subscription(content)
    assert command is not None and command.subscribe is subscribe
    if subscribe:
        assert command.audience == audience


@pytest.mark.parametrize("content", ["我想订阅公众号", "有人让我退订会员然后退款", "订阅"])
def test_other_messages_are_not_subscription_commands(content):
    assert parse_subscription(content) is None


def test_an_openid_is_never_logged_in_clear():
    ref = subscriber_ref("oABCD1234efgh5678ijkl")
    assert ref.startswith("sub-") and "oABCD" not in ref and ref == subscriber_ref("oABCD1234efgh5678ijkl")


def test_busy_and_rate_limit_are_retried_but_a_closed_window_is_not():
    from wechatpy.exceptions import APILimitedException, WeChatClientException

    assert is_transient(WeChatClientException(-1, "busy"))
    assert is_transient(APILimitedException(45009, "freq"))
    assert is_transient(WeChatClientException(None, None))  # an HTTP 5xx
    assert not is_transient(WeChatClientException(45015, "response out of time limit"))


# -- the stores ------------------------------------------------------------------------------

@pytest_asyncio.fixture(params=["sqlite", "redis"])
async def store(request, tmp_path):
    if request.param == "sqlite":
        made = await SqliteAlertStore.open(tmp_path / "alerts.db")
    else:
        from bot.alerts.redis_store import RedisAlertStore

        try:
            made = await RedisAlertStore.open(REDIS_URL, f"test-alerts-{os.getpid()}:")
        except Exception as err:  # noqa: BLE001
            pytest.skip(f"no Redis at {REDIS_URL}: {err}")
    yield made
    if request.param == "redis":
        keys = await made.client.keys(made.prefix + "*")
        if keys:
            await made.client.delete(*keys)
    await made.close()


async def test_the_store_lists_active_alerts_newest_first(store):
    old = new_alert(GOOD, TYPES, now=NOW - timedelta(days=2))
    new = new_alert({**GOOD, "title": "新的"}, TYPES, now=NOW - timedelta(hours=1))
    gone = new_alert({**GOOD, "expires_at": (NOW - timedelta(hours=1)).isoformat()}, TYPES, now=NOW - timedelta(days=3))
    for made in (old, new, gone):
        await store.add(made)
    assert [a.id for a in await store.active(NOW)] == [new.id, old.id]
    assert await store.get(gone.id) == gone  # an expired one is still found by id
    assert await store.get("nope") is None


async def test_the_store_keeps_openid_and_audience_only(store):
    await store.subscribe("o-1", "老年人")
    await store.subscribe("o-2", EVERYONE)
    await store.subscribe("o-1", "家长")  # subscribing again changes the audience
    assert await store.subscribers() == [("o-1", "家长"), ("o-2", EVERYONE)]
    assert await store.unsubscribe("o-1") is True and await store.unsubscribe("o-1") is False
    assert await store.subscribers() == [("o-2", EVERYONE)]


async def test_the_store_counts_a_push(store):
    assert await store.progress("a1") == PushProgress()
    await store.set_progress("a1", PushProgress("sending", 3))
    await store.count_delivery("a1", True)
    await store.count_delivery("a1", True)
    await store.count_delivery("a1", False)
    assert await store.progress("a1") == PushProgress("sending", 3, 2, 1)
