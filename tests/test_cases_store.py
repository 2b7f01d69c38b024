"""Case records: the model (validation, masking) and one behaviour suite run on every store
backend — SQLite (tmp_path), Redis (DB 15, a unique prefix) and PostgreSQL (database
`test`, a unique table) — so the three keep behaving the same."""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from bot.cases import Case, CaseDraft, CaseFilter, CaseValidationError, open_case_store
from bot.kb import assess

REDIS_URL = "redis://127.0.0.1:6379/15"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
PHONE, QQ, CARD = "13812345678", "987654321", "6222021234567890123"
VERDICT = {"scam_type": "police_impersonation", "scam_name": "冒充公检法及政府机关", "risk_level": "high",
           "indicators": [{"kind": "amount", "value": "5万元"}]}
OTHER = {"scam_type": "customer_service_impersonation", "scam_name": "冒充电商物流客服", "risk_level": "medium"}


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


def draft(notes: str = "来电人说有人让他把钱转到安全账户", verdict: dict = VERDICT, **kw) -> CaseDraft:
    return CaseDraft(notes=notes, verdict=verdict, **kw)


# -- backends ------------------------------------------------------------------------------


async def _redis_cleanup(prefix: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.close()


async def _postgres_reachable() -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@pytest.fixture(params=["sqlite", "redis", "postgresql"])
async def store_url(request, tmp_path):
    """A URL naming a fresh, empty store of each backend; removed afterwards."""
    unique = uuid.uuid4().hex[:10]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/nested/cases.db"
    elif request.param == "redis":
        prefix = f"test:cases:{unique}:"
        yield f"{REDIS_URL}?prefix={prefix}"
        await _redis_cleanup(prefix)
    else:
        if not await _postgres_reachable():
            pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
        table = f"cases_test_{unique}"
        yield f"{POSTGRES_URL}?table={table}"
        import asyncpg

        conn = await asyncpg.connect(POSTGRES_URL)
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()


@pytest.fixture
async def store(store_url):
    opened = await open_case_store(store_url)
    yield opened
    await opened.close()


@pytest.fixture
async def calendar(store):
    """Five cases over four days (UTC noon unless said), oldest first."""
    cases = [
        await store.add(draft("一号：冒充警察，要转安全账户"), created_at=at("2026-03-01")),
        await store.add(draft("二号：快递理赔客服", OTHER), created_at=at("2026-03-02")),
        await store.add(draft("三号：自称检察院，QQ 987654321"), created_at=at("2026-03-03")),
        # 2026-03-03 23:30 in Beijing (UTC+8): still the 3rd for the operators.
        await store.add(draft("四号：退款客服", OTHER), created_at=datetime(2026, 3, 3, 15, 30, tzinfo=timezone.utc)),
        # 2026-03-05 01:00 in Beijing, though still the 4th in UTC.
        await store.add(draft("五号：医保卡被盗刷"), created_at=datetime(2026, 3, 4, 17, 0, tzinfo=timezone.utc)),
    ]
    return cases


def notes_of(cases) -> list:
    return [c.notes[:2] for c in cases]


# -- the behaviour suite -----------------------------------------------------------------


async def test_add_then_get_returns_the_same_case(store):
    saved = await store.add(draft(f"电话{PHONE}，让我转5万元", channel="walk_in", answers={"pi_q_transfer": True,
                                  "pi_q_video": None}, claimed_identity="某市公安局刘警官", operator="wang"))
    assert len(saved.id) == 16 and int(saved.id, 16) >= 0
    assert saved.created_at.tzinfo is not None and saved.created_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - saved.created_at) < timedelta(minutes=1)
    loaded = await store.get(saved.id)
    assert loaded == saved
    assert loaded.notes == f"电话{PHONE}，让我转5万元"  # stored raw: the police need it
    assert loaded.answers == {"pi_q_transfer": True, "pi_q_video": None}
    assert (loaded.scam_type, loaded.risk_level, loaded.amounts) == ("police_impersonation", "high", ["5万元"])


async def test_unknown_id_is_none(store):
    await store.add(draft())
    assert await store.get("0123456789abcdef") is None
    assert await store.get("") is None
    assert await store.get("'; DROP TABLE cases; --") is None


async def test_ids_are_unique(store):
    ids = {(await store.add(draft())).id for _ in range(20)}
    assert len(ids) == 20


async def test_empty_store_lists_nothing(store):
    assert await store.list() == []
    assert await store.count() == 0


async def test_list_is_newest_first_and_counts_everything(store, calendar):
    assert notes_of(await store.list()) == ["五号", "四号", "三号", "二号", "一号"]
    assert await store.count() == 5


async def test_paging_walks_every_case_once(store, calendar):
    pages = [await store.list(limit=2, offset=offset) for offset in (0, 2, 4, 6)]
    assert [notes_of(p) for p in pages] == [["五号", "四号"], ["三号", "二号"], ["一号"], []]


async def test_dates_are_operator_days_and_until_is_inclusive(store, calendar):
    assert notes_of(await store.list(CaseFilter(since=date(2026, 3, 3)))) == ["五号", "四号", "三号"]
    assert notes_of(await store.list(CaseFilter(until=date(2026, 3, 2)))) == ["二号", "一号"]
    assert notes_of(await store.list(CaseFilter(since=date(2026, 3, 3), until=date(2026, 3, 3)))) == ["四号", "三号"]
    # 17:00 UTC on the 4th is 01:00 on the 5th in Beijing.
    assert notes_of(await store.list(CaseFilter(since=date(2026, 3, 4), until=date(2026, 3, 4)))) == []
    assert notes_of(await store.list(CaseFilter(since=date(2026, 3, 5)))) == ["五号"]
    assert await store.count(CaseFilter(since=date(2026, 3, 2), until=date(2026, 3, 3))) == 3


async def test_type_filter(store, calendar):
    assert notes_of(await store.list(CaseFilter(scam_type="customer_service_impersonation"))) == ["四号", "二号"]
    assert await store.count(CaseFilter(scam_type="police_impersonation")) == 3
    assert await store.list(CaseFilter(scam_type="fake_loan")) == []


async def test_text_query_finds_notes_indicator_and_type_name(store, calendar):
    assert notes_of(await store.list(CaseFilter(query="安全账户"))) == ["一号"]
    assert notes_of(await store.list(CaseFilter(query="qq 9876"))) == ["三号"]  # case-insensitive
    assert notes_of(await store.list(CaseFilter(query="安全帳戶"))) == ["一号"]  # Traditional matches Simplified
    assert notes_of(await store.list(CaseFilter(query="电商物流"))) == ["四号", "二号"]  # the type's name
    assert await store.count(CaseFilter(query="100%_不存在")) == 0  # no LIKE wildcards
    assert await store.count(CaseFilter(query="   ")) == 5  # blank = no filter


async def test_filters_combine_with_paging(store, calendar):
    kwargs = {"since": date(2026, 3, 2), "scam_type": "police_impersonation", "query": "号"}
    assert notes_of(await store.list(CaseFilter(**kwargs))) == ["五号", "三号"]
    assert notes_of(await store.list(CaseFilter(**kwargs), limit=1, offset=1)) == ["三号"]
    assert await store.count(CaseFilter(**kwargs)) == 2


@pytest.mark.parametrize("limit, offset", [(0, 0), (-1, 0), (10_001, 0), (10, -1)])
async def test_bad_paging_is_refused(store, limit, offset):
    with pytest.raises(ValueError, match="limit|offset"):
        await store.list(limit=limit, offset=offset)


async def test_cases_survive_reopening(store_url):
    first = await open_case_store(store_url)
    saved = await first.add(draft(f"电话{PHONE}"))
    await first.close()
    second = await open_case_store(store_url)
    try:
        assert await second.get(saved.id) == saved
        assert [c.id for c in await second.list()] == [saved.id]
    finally:
        await second.close()


async def test_stored_cases_are_masked_on_output(store, mini_kb):
    notes = f"对方自称警察，电话{PHONE}，QQ {QQ}，让我把钱转到安全账户，卡号{CARD}"
    verdict = assess(mini_kb, notes).to_api()
    saved = await store.add(draft(notes, verdict))
    shown = json.dumps((await store.get(saved.id)).to_api(), ensure_ascii=False)
    for secret in (PHONE, QQ, CARD):
        assert secret not in shown
    assert "138****5678" in shown
    raw = json.dumps(saved.to_api(unmask=True), ensure_ascii=False)
    assert PHONE in raw and QQ in raw


# -- the model ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"notes": ""}, "notes"),
        ({"notes": "   "}, "notes"),
        ({"notes": "好" * 5001}, "notes"),
        ({"notes": "a\x00b"}, "notes"),
        ({"notes": "\ud800"}, "notes"),
        ({"notes": 42}, "notes"),
        ({"channel": "fax"}, "channel"),
        ({"answers": {"pi_q_transfer": "yes"}}, "answers.pi_q_transfer"),
        ({"answers": ["pi_q_transfer"]}, "answers"),
        ({"claimed_identity": "警" * 201}, "claimed_identity"),
        ({"verdict": {"scam_type": "none"}}, "verdict.risk_level"),
        ({"verdict": "high"}, "verdict"),
    ],
)
def test_drafts_are_validated_with_the_field_named(kwargs, field):
    values = {"notes": "正常的笔记", "verdict": VERDICT, **kwargs}
    with pytest.raises(CaseValidationError) as err:
        CaseDraft(**values)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")


def test_notes_of_exactly_5000_characters_are_fine():
    assert len(CaseDraft(notes="好" * 5000, verdict=VERDICT).notes) == 5000


def test_case_needs_an_aware_time():
    with pytest.raises(CaseValidationError, match="created_at"):
        Case(notes="x", verdict=VERDICT, id="abc", created_at=datetime(2026, 3, 1))


def test_api_shape_and_masking_of_every_personal_field(mini_kb):
    notes = f"我叫张三丰，电话{PHONE}，微信号 wxid_abc123xyz，身份证110101199003071234，转了5万元"
    verdict = assess(mini_kb, notes).to_api()
    case = Case.from_draft(draft(notes, verdict, claimed_identity=f"客服，回拨{PHONE}"),
                           created_at=datetime(2026, 3, 1, 8, tzinfo=timezone.utc))
    shown = case.to_api()
    assert set(shown) == {"id", "created_at", "channel", "notes", "claimed_identity", "operator", "answers",
                          "verdict", "masked"}
    assert shown["created_at"] == "2026-03-01T08:00:00+00:00"
    assert shown["masked"] is True and case.to_api(unmask=True)["masked"] is False
    text = json.dumps(shown, ensure_ascii=False)
    for secret in (PHONE, "wxid_abc123xyz", "110101199003071234", "张三丰"):
        assert secret not in text, secret
    assert shown["claimed_identity"] == "客服，回拨138****5678"
    kinds = {i["kind"]: i["value"] for i in shown["verdict"]["indicators"]}
    assert kinds["phone"] == "138****5678" and kinds["wechat_id"] == "wx**********yz"
    assert kinds["amount"] == "5万元"  # amounts are not personal
    assert shown["verdict"]["scam_type"] == verdict["scam_type"]
    assert shown["verdict"]["hotlines"] == verdict["hotlines"]  # official numbers stay readable
    assert case.to_api(unmask=True)["notes"] == notes


def test_records_round_trip():
    case = Case.from_draft(draft(answers={"q": None}, operator="li"))
    assert Case.from_record(json.loads(json.dumps(case.to_record()))) == case


async def test_unknown_scheme_and_bad_urls_are_clear(tmp_path):
    with pytest.raises(ValueError, match="unknown scheme 'mysql'"):
        await open_case_store("mysql://localhost/cases")
    with pytest.raises(ValueError, match="sqlite:///"):
        await open_case_store("sqlite://")
    with pytest.raises(ValueError, match="table name"):
        await open_case_store(f"{POSTGRES_URL}?table=cases;drop")


async def test_sqlite_creates_its_folder_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CASES_URL", raising=False)
    store = await open_case_store()
    try:
        await store.add(draft())
    finally:
        await store.close()
    assert (tmp_path / "var" / "cases.db").exists()
