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


def test_redis_tracker_store_persists_masked(tmp_path):
    redis = pytest.importorskip("redis")
    client = redis.Redis(host="127.0.0.1", port=6379, db=15, decode_responses=True, socket_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    try:
        store = _store_from_endpoints(tmp_path, "  url: 127.0.0.1\n  port: 6379\n  db: 15\n  key_prefix: test\n")
        _conversation(store, "resident-3")
        _conversation(store, "resident-3")  # second save merges with what is stored
        keys = list(client.scan_iter("test:*"))
        assert keys == ["test:tracker:resident-3"]
        raw = client.get(keys[0])
        assert "138****5678" in raw
        assert_no_raw(raw)
    finally:
        for key in client.scan_iter("test:*"):
            client.delete(key)
