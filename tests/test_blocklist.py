"""Blocklist / allowlist: canonical forms, built-in official numbers, CSV import/export,
the CLI, and the Redis store (real Redis at 127.0.0.1:6379 db 15, keys under `test:`)."""
from __future__ import annotations

import pytest

from bot.kb import load_kb
from bot.kb.blocklist import (
    BlocklistError,
    InMemoryBlocklist,
    RedisBlocklist,
    canonical,
    read_csv,
)
from bot.runtime.blocklist import create_blocklist, main
from bot.kb.results import Indicator

REDIS_URL = "redis://127.0.0.1:6379/15"
PREFIX = "test:blocklist:"


@pytest.fixture(scope="module")
def kb():
    return load_kb()


@pytest.fixture
def memory(kb):
    return InMemoryBlocklist(kb=kb)


@pytest.fixture
def redis_client():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    yield client
    for key in client.scan_iter("test:*"):
        client.delete(key)


@pytest.fixture
def redis_store(redis_client, kb):
    return RedisBlocklist(redis_client, PREFIX, kb)


def ind(kind, value):
    return Indicator(kind, value, 0, len(value))


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# -- canonical forms and look-ups (both stores) ----------------------------------------------------


def test_canonical_forms():
    assert canonical("phone", "+86 138-1234-5678") == canonical("phone", "13812345678") == "+8613812345678"
    assert canonical("phone", "0086 138 1234 5678") == "+8613812345678"
    assert canonical("phone", "010-6523 1234") == canonical("phone", "01065231234")
    assert canonical("phone", "+852 6123 4567") == "+85261234567"
    assert canonical("domain", "HTTPS://WWW.Evil-Pay.top/x?y=1") == "evil-pay.top"
    assert canonical("account", "6222 0201-6613") == "622202016613"
    with pytest.raises(BlocklistError):
        canonical("email", "a@b.c")


@pytest.fixture(params=["memory", "redis"])
def store(request):
    return request.getfixturevalue("memory" if request.param == "memory" else "redis_store")


def test_add_lookup_remove(store):
    store.add("block", "phone", "186 9876 5432", "冒充客服")
    entry = store.check(ind("phone", "+86-18698765432"))
    assert entry.list == "block" and entry.note == "冒充客服"
    assert store.remove("block", "phone", "18698765432")
    assert store.check(ind("phone", "18698765432")) is None


def test_url_matches_listed_domain_and_its_subdomains(store):
    store.add("block", "domain", "evil-pay.top")
    assert store.check(ind("url", "https://m.evil-pay.top/login")).list == "block"
    assert store.check(ind("url", "evil-pay.top")).list == "block"
    assert store.check(ind("url", "not-evil-pay.top")) is None


def test_accounts_qq_wechat_card(store):
    store.add("block", "account", "6217 0039 0996 0308 248")
    store.add("block", "account", "tz_LaoShi888")
    store.add("block", "account", "2839471023")
    assert store.check(ind("bank_card", "6217003909960308248")).list == "block"
    assert store.check(ind("wechat_id", "tz_laoshi888")).list == "block"
    assert store.check(ind("qq", "2839471023")).list == "block"
    assert store.check(ind("amount", "2839471023")) is None


def test_allow_wins_over_block(store):
    store.add("block", "phone", "4008208820")
    store.add("allow", "phone", "400-820-8820", "某公司官方客服")
    assert store.check(ind("phone", "4008208820")).list == "allow"


def test_official_numbers_are_built_in_allowlist(store, kb):
    for number in ["110", "96110", "12381", *[b.number for b in kb.banks]]:
        entry = store.check(ind("phone", number))
        assert entry is not None and entry.list == "allow" and entry.builtin, number
    assert "工商银行" in store.check(ind("phone", "95588")).note
    # Built-ins can't be blocked away and are not exported.
    store.add("block", "phone", "95588")
    assert store.check(ind("phone", "95588")).list == "allow"


def test_csv_round_trip(store, tmp_path):
    source = write(tmp_path / "in.csv", "list,kind,value,note\n"
                   "block,phone,+86 170 1234 5678,改号软件\n"
                   "block,domain,https://www.icbc-vip.com/x,假冒工行\n"
                   "allow,phone,0571-87654321,社区民警值班电话\n"
                   "block,account,6222 0201 6613 1860 917,\n"
                   "\n")
    assert store.import_csv(source) == 4
    assert store.check(ind("url", "icbc-vip.com")).note == "假冒工行"
    out = tmp_path / "out.csv"
    assert store.export_csv(out) == 4
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "list,kind,value,note"
    assert "block,phone,+8617012345678,改号软件" in lines
    fresh = InMemoryBlocklist(builtins=False)
    assert fresh.import_csv(out) == 4


# -- CSV errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty file"),
        ("kind,value\nphone,110\n", "line 1: header must be list,kind,value,note (missing list"),
        ("list,kind,value,note\nblack,phone,13812345678,\n", "line 2: list must be 'block' or 'allow'"),
        ("list,kind,value,note\nblock,mail,a@b.c,\n", "line 2: kind must be one of phone, domain, account"),
        ("list,kind,value,note\nallow,url,https://www.icbc.com.cn,\nblock,fax,123,\n", "line 3: kind must be one of"),
        ("list,kind,value,note\nblock,phone,13812345678,\nblock,phone,,x\n", "line 3: value is empty"),
        ("list,kind,value,note\nblock,phone,1,2,3,4\n", "line 2: 6 fields, the header has 4"),
    ],
)
def test_bad_csv_is_reported_with_file_and_line(tmp_path, content, message):
    path = write(tmp_path / "bad.csv", content)
    with pytest.raises(BlocklistError) as err:
        read_csv(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_indicator_kinds_are_accepted_as_aliases(memory, tmp_path):
    path = write(tmp_path / "a.csv", "list,kind,value,note\nblock,url,http://x.evil.top/a,\nblock,qq,2839471023,\n"
                                     "block,wechat_id,tz_laoshi888,\nblock,bank_card,6217 0039 0996 0308 248,\n")
    assert memory.import_csv(path) == 4
    assert {e.kind for e in memory.entries()} == {"domain", "account"}
    assert memory.check(ind("url", "https://a.x.evil.top")).list == "block"


def test_bad_csv_imports_nothing(memory, tmp_path):
    path = write(tmp_path / "bad.csv", "list,kind,value,note\nblock,phone,13812345678,\nblock,phone,,\n")
    with pytest.raises(BlocklistError):
        memory.import_csv(path)
    assert list(memory.entries()) == []


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(BlocklistError, match="no such file"):
        read_csv(tmp_path / "nope.csv")
    path = tmp_path / "gbk.csv"
    path.write_bytes("list,kind,value,note\nblock,phone,13812345678,冒充公安局的诈骗电话\n".encode("gbk"))
    with pytest.raises(BlocklistError, match="not UTF-8"):
        read_csv(path)


# -- CLI ----------------------------------------------------------------------------------------------


def test_cli_in_process_store_persists_to_file(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("BLOCKLIST_FILE", str(tmp_path / "local.csv"))
    source = write(tmp_path / "in.csv", "list,kind,value,note\nblock,phone,18698765432,举报\n")
    assert main(["import", str(source)]) == 0
    assert "imported 1 entries" in capsys.readouterr().out
    assert create_blocklist().check(ind("phone", "186 9876 5432")).list == "block"
    out = tmp_path / "out.csv"
    assert main(["export", str(out)]) == 0
    assert "+8618698765432" in out.read_text(encoding="utf-8")


def test_cli_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("BLOCKLIST_FILE", str(tmp_path / "local.csv"))
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
    bad = write(tmp_path / "bad.csv", "list,kind,value\nblock,fax,123\n")
    assert main(["import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "line 2" in err and "kind must be one of" in err
    assert main(["import", str(tmp_path / "missing.csv")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_cli_with_redis(redis_client, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("BLOCKLIST_PREFIX", PREFIX)
    source = write(tmp_path / "in.csv", "list,kind,value,note\nblock,domain,evil-pay.top,钓鱼\nallow,account,95516,银联\n")
    assert main(["import", str(source)]) == 0
    assert "Redis" in capsys.readouterr().out
    assert redis_client.hget(PREFIX + "block", "domain:evil-pay.top") is not None
    store = create_blocklist()
    assert isinstance(store, RedisBlocklist)
    assert store.check(ind("url", "http://a.evil-pay.top")).note == "钓鱼"
    out = tmp_path / "out.csv"
    assert main(["export", str(out)]) == 0
    assert "block,domain,evil-pay.top,钓鱼" in out.read_text(encoding="utf-8")


def test_redis_down_does_not_break_lookups(kb):
    redis = pytest.importorskip("redis")
    store = RedisBlocklist(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), PREFIX, kb)
    assert store.check(ind("phone", "18698765432")) is None
    assert store.check(ind("phone", "96110")).list == "allow"


def test_redis_store_clear(redis_store, redis_client):
    redis_store.add("block", "phone", "18698765432")
    redis_store.clear()
    assert list(redis_store.entries()) == []
    assert not list(redis_client.scan_iter(PREFIX + "*"))
