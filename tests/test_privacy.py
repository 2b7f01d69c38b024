"""Personal data is masked in every log line and in stored conversations (tracker store),
while the live turn still sees what the person wrote."""
from __future__ import annotations

import asyncio
import io
import json
import logging
import re

import pytest

from bot.quality.spans import load_examples
from bot.privacy import MaskingFilter, install_log_masking, mask_data, mask_text

PHONE = "13812345678"
CARD = "6217003909960308248"
ID_NUMBER = "110105195803123326"
TEXT = f"我叫张小明，电话{PHONE}，卡号{CARD}，身份证{ID_NUMBER}，对方号码+86 186 9876 5432"
RAW = [PHONE, CARD, ID_NUMBER, "18698765432", "186 9876 5432", "张小明"]


def assert_no_raw(blob: str) -> None:
    for raw in RAW:
        assert raw not in blob, f"{raw!r} leaked: {blob[:300]}"
    digits = re.sub(r"\D", "", blob)
    for raw in (PHONE, CARD, ID_NUMBER, "18698765432"):
        assert raw not in digits, f"{raw!r} leaked (separators removed)"


# -- masking ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, masked",
    [
        ("电话13812345678", "电话138****5678"),
        ("+86 138 1234 5678", "+86 138 **** 5678"),
        ("座机010-65231234", "座机010-****1234"),
        ("卡号6222 0201 6613 1860 917", "卡号6222 **** **** ***0 917"),
        ("6217003909960308248", "6217***********8248"),
        ("身份证41010520050403060X", "身份证410***********060X"),
        ("我叫张小明，今年七十", "我叫张**，今年七十"),
        ("姓名：欧阳娜娜", "姓名：欧阳**"),
        ("收款人王芳的账户", "收款人王*的账户"),
        ("打110、96110或95588", "打110、96110或95588"),
        ("转了5000元，验证码382910", "转了5000元，验证码382910"),
    ],
)
def test_mask_text(text, masked):
    assert mask_text(text) == masked


def test_masking_keeps_length_so_entity_offsets_stay_valid():
    assert len(mask_text(TEXT)) == len(TEXT)


def test_every_labelled_personal_number_is_masked():
    checked = 0
    for section in ("examples", "heldout"):
        for text, gold in load_examples(section=section):
            masked = mask_text(text)
            for kind, start, end in gold:
                value = text[start:end]
                digits = re.sub(r"\D", "", value)
                personal = kind in ("bank_card", "id_number") or (
                    kind == "phone" and len(digits) >= 8 and not digits.startswith(("400", "800"))
                )
                if personal:
                    checked += 1
                    assert digits not in re.sub(r"\D", "", masked[start:end]), (value, masked)
    assert checked >= 60


def test_mask_data_masks_free_text_but_not_identifiers():
    event = {"event": "user", "text": TEXT, "message_id": "0123456789abcdef0123456789abcdef",
             "parse_data": {"intent": {"name": "describe", "confidence": 0.9},
                            "entities": [{"entity": "phone", "value": PHONE, "start": 8, "end": 19}]},
             "metadata": {"raw": [TEXT]}}
    masked = mask_data(event)
    assert_no_raw(json.dumps(masked, ensure_ascii=False))
    assert masked["message_id"] == event["message_id"]
    assert masked["parse_data"]["intent"]["name"] == "describe"
    assert event["text"] == TEXT  # the original is not modified


# -- logging --------------------------------------------------------------------------------------------


def test_every_log_line_is_masked_including_handlers_added_later_and_tracebacks():
    early, late = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    early_handler = logging.StreamHandler(early)
    root.addHandler(early_handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        install_log_masking()
        late_handler = logging.StreamHandler(late)  # like coloredlogs / Sanic after start-up
        late_handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
        logging.getLogger("rasa.core.processor").addHandler(late_handler)
        log = logging.getLogger("rasa.core.processor")
        log.debug(f"Received user message '{TEXT}' with intent 'describe'")
        log.info("user said %s and %s", PHONE, {"card": CARD})
        try:
            raise ValueError(f"bad id {ID_NUMBER}")
        except ValueError:
            log.exception("failed for %s", PHONE)
        logging.getLogger("some.other").warning("号码 %s", "+86 186 9876 5432")
    finally:
        root.removeHandler(early_handler)
        logging.getLogger("rasa.core.processor").removeHandler(late_handler)
        root.setLevel(old_level)
    for output in (early.getvalue(), late.getvalue()):
        assert "138****5678" in output
        assert_no_raw(output)
    assert "ValueError: bad id 110***********3326" in early.getvalue()


def test_masking_filter_on_its_own():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "card %s", (CARD,), None)
    assert MaskingFilter().filter(record)
    assert record.getMessage() == "card 6217***********8248"


# -- tracker store ---------------------------------------------------------------------------------------


def _store_from_endpoints(tmp_path, extra: str = ""):
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.utils.endpoints import read_endpoint_config

    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("tracker_store:\n  type: bot.privacy.tracker_store.MaskingTrackerStore\n" + extra, encoding="utf-8")
    config = read_endpoint_config(str(endpoints), "tracker_store")
    store = TrackerStore.create(config, Domain.empty())
    from bot.privacy.tracker_store import MaskingTrackerStore

    assert isinstance(store, MaskingTrackerStore), type(store)  # loaded by module path, async
    return store


def _conversation(store, sender):
    from rasa.shared.core.events import BotUttered, SlotSet, UserUttered

    async def run():
        tracker = await store.get_or_create_tracker(sender)
        start = TEXT.index(PHONE)
        tracker.update(UserUttered(TEXT, parse_data={
            "text": TEXT, "intent": {"name": "describe", "confidence": 0.9},
            "entities": [{"entity": "phone", "value": PHONE, "start": start, "end": start + len(PHONE)}]}))
        tracker.update(SlotSet("notes", TEXT))
        # The live reply may quote the number back to the person who wrote it.
        tracker.update(BotUttered(f"您说对方的号码是 {PHONE}，卡号 {CARD}，我们来看看。"))
        await store.save(tracker)
        return tracker

    return asyncio.run(run())


def test_in_memory_tracker_store_persists_masked_and_the_live_turn_is_untouched(tmp_path):
    store = _store_from_endpoints(tmp_path)
    live = _conversation(store, "resident-1")
    assert live.latest_message.text == TEXT  # the current turn still has the raw text
    assert_no_raw(store.inner.store["resident-1"])
    stored = asyncio.run(store.retrieve("resident-1"))
    entity = stored.latest_message.parse_data["entities"][0]
    assert entity["value"] == "138****5678"
    assert stored.latest_message.text[entity["start"]:entity["end"]] == "138****5678"
    assert stored.get_slot("notes") is None or PHONE not in str(stored.get_slot("notes"))


def test_events_streamed_to_an_event_broker_are_masked(tmp_path):
    from rasa.core.brokers.broker import EventBroker

    published = []

    class Broker(EventBroker):
        def publish(self, event):
            published.append(event)

        def is_ready(self):  # pragma: no cover
            return True

    store = _store_from_endpoints(tmp_path)
    store.event_broker = Broker()
    _conversation(store, "resident-2")
    assert published
    assert_no_raw(json.dumps(published, ensure_ascii=False))


@pytest.fixture
def redis15():
    """db 15 of the local Redis (skipped when none answers), as (client, prefixes): the keys
    under every prefix a test adds to `prefixes` are deleted after it."""
    redis = pytest.importorskip("redis")
    client = redis.Redis(host="127.0.0.1", port=6379, db=15, decode_responses=True, socket_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    prefixes: list = []
    yield client, prefixes
    for prefix in prefixes:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


def test_redis_tracker_store_persists_masked(tmp_path, redis15):
    client, prefixes = redis15
    prefixes.append("test")
    store = _store_from_endpoints(tmp_path, "  url: 127.0.0.1\n  port: 6379\n  db: 15\n  key_prefix: test\n")
    _conversation(store, "resident-3")
    _conversation(store, "resident-3")  # second save merges with what is stored
    keys = list(client.scan_iter("test:*"))
    assert keys == ["test:tracker:resident-3"]
    raw = client.get(keys[0])
    assert "138****5678" in raw
    assert_no_raw(raw)


def test_a_read_while_redis_restarts_waits_for_it_instead_of_starting_the_conversation_over(tmp_path, caplog, redis15):
    """Rasa's fail-safe store answers an unreadable conversation with an empty one, and its save
    would then replace the resident's stored check: the masking store waits for Redis instead."""
    import redis

    _client, prefixes = redis15
    prefixes.append("restart")
    store = _store_from_endpoints(tmp_path, "  url: 127.0.0.1\n  port: 6379\n  db: 15\n  key_prefix: restart\n")
    _conversation(store, "resident-5")
    real_get, failures = store.inner.red.get, []

    def get_while_restarting(key):
        if len(failures) < 3:  # the first three reads find Redis restarting
            failures.append(key)
            raise redis.exceptions.ConnectionError("Connection closed by server.")
        return real_get(key)

    store.inner.red.get = get_while_restarting
    with caplog.at_level(logging.WARNING, logger="bot.privacy.tracker_store"):
        tracker = asyncio.run(store.retrieve("resident-5"))
    assert len(failures) == 3
    user_turns = [e.text for e in tracker.events if e.type_name == "user"] if tracker else []
    assert len(user_turns) == 1 and "138****5678" in user_turns[0]  # the stored (masked) check
    assert "tracker store unreachable (ConnectionError); reading again" in caplog.text


# -- a bounded conversation, masked once ------------------------------------------------------------


def _domain_with_slots():
    from rasa.shared.core.domain import Domain

    return Domain.from_yaml(
        "version: '3.1'\n"
        "intents: [describe, affirm]\n"
        "slots:\n"
        "  notes: {type: text, influence_conversation: false, mappings: [{type: custom}]}\n"
        "  turns: {type: any, influence_conversation: false, mappings: [{type: custom}]}\n"
    )


def _long_conversation(store, sender: str, turns: int, first: int = 1):
    """`turns` resident turns on one tracker, saved and read back after every turn as Rasa does."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

    async def run():
        tracker = await store.get_or_create_tracker(sender)
        for turn in range(first, first + turns):
            tracker = await store.retrieve(sender)
            text = f"第{turn}次：{TEXT}"
            tracker.update(UserUttered(text, parse_data={"text": text, "intent": {"name": "describe", "confidence": 0.9}}))
            if turn == 1:
                tracker.update(SlotSet("notes", TEXT))
            tracker.update(SlotSet("turns", turn))
            tracker.update(BotUttered(f"您说对方的号码是 {PHONE}"))
            tracker.update(ActionExecuted("action_listen"))
            await store.save(tracker)
        return tracker

    return asyncio.run(run())


def test_a_long_conversation_keeps_its_latest_turns_and_its_slots(tmp_path):
    from bot.privacy.tracker_store import MaskingTrackerStore

    store = MaskingTrackerStore(_domain_with_slots(), kept_turns=5)
    live = _long_conversation(store, "resident-long", 40)
    stored = asyncio.run(store.retrieve("resident-long"))
    users = [e.text for e in stored.events if e.type_name == "user"]
    assert [u.split("：")[0] for u in users] == [f"第{n}次" for n in range(36, 41)]  # in order
    assert stored.get_slot("turns") == live.get_slot("turns") == 40
    # set on the first turn only, long cut away: still there, still masked
    assert stored.get_slot("notes") and PHONE not in stored.get_slot("notes")
    assert "138****5678" in stored.get_slot("notes")
    assert_no_raw(store.inner.store["resident-long"])
    assert len(stored.events) < 40  # bounded, not 40 turns of events


def test_a_short_conversation_is_stored_whole():
    from bot.privacy.tracker_store import bounded_events

    events = [{"event": "action", "name": "action_listen", "timestamp": 1.0},
              {"event": "user", "text": "你好", "timestamp": 2.0},
              {"event": "slot", "name": "notes", "value": "x", "timestamp": 3.0}]
    assert bounded_events(events, 2) == events


def test_the_cut_carries_the_slot_values_at_the_cut_and_forgets_reset_ones():
    from bot.privacy.tracker_store import bounded_events

    def user(n):
        return {"event": "user", "text": f"u{n}", "timestamp": float(n)}

    events = [{"event": "slot", "name": "a", "value": 1, "timestamp": 0.1}, user(1),
              {"event": "restart", "timestamp": 1.5}, {"event": "slot", "name": "b", "value": 2, "timestamp": 1.6},
              user(2), {"event": "slot", "name": "b", "value": 3, "timestamp": 2.5}, user(3)]
    kept = bounded_events(events, 1)
    assert [e["event"] for e in kept[:2]] == ["action", "session_started"]
    assert {e["name"]: e["value"] for e in kept if e["event"] == "slot"} == {"b": 3}  # a was reset
    assert kept[-1] == user(3) and kept[-2]["name"] == "action_listen"


def test_only_the_events_a_turn_added_are_masked(monkeypatch):
    from bot.privacy import tracker_store

    store = tracker_store.MaskingTrackerStore(_domain_with_slots(), kept_turns=50)
    _long_conversation(store, "resident-count", 3)
    masked = []
    real = tracker_store.mask_data
    monkeypatch.setattr(tracker_store, "mask_data", lambda event: masked.append(event) or real(event))
    _long_conversation(store, "resident-count", 1, first=4)  # one more turn: four events
    assert len(masked) == 4, [e.get("event") for e in masked]
    assert_no_raw(store.inner.store["resident-count"])


def test_redis_tracker_store_keeps_a_long_conversation_bounded(tmp_path, redis15):
    from bot.privacy.tracker_store import MaskingTrackerStore

    client, prefixes = redis15
    prefixes.append("testlong")
    store = MaskingTrackerStore(_domain_with_slots(), host="127.0.0.1", port=6379, db=15,
                                key_prefix="testlong", kept_turns=4)
    _long_conversation(store, "resident-4", 12)
    raw = client.get("testlong:tracker:resident-4")
    assert_no_raw(raw)
    stored = asyncio.run(store.retrieve("resident-4"))
    assert [e.text.split("：")[0] for e in stored.events if e.type_name == "user"] == \
        [f"第{n}次" for n in range(9, 13)]
    assert stored.get_slot("turns") == 12
