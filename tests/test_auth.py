"""Operator accounts, sessions and API tokens (bot.gateway.auth)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from cryptography.fernet import Fernet

from bot.gateway import auth
from bot.gateway.app import GatewayConfig, create_app
from bot.gateway.errors import json_response

PASSWORD = "correct horse battery"


@pytest.fixture
def operators_file(tmp_path: Path) -> Path:
    path = tmp_path / "operators.yml"
    auth.save_operator(path, "wang", PASSWORD, "王警官", ["operator"])
    auth.save_operator(path, "li", PASSWORD, "李社工", ["outreach"])
    return path


def _config(path: Path, max_age: int = 3600) -> auth.AuthConfig:
    return auth.AuthConfig(operators_file=path, session_secret=Fernet.generate_key(),
                           session_max_age=max_age, secure_cookies=False)


def _app(path: Path, max_age: int = 3600) -> web.Application:
    app = web.Application()
    from bot.gateway.errors import json_errors
    from bot.gateway.pages import setup_pages

    app.middlewares.append(json_errors)
    setup_pages(app)
    auth.setup_auth(app, ["secret-token"], _config(path, max_age))

    @auth.login_required("operator")
    async def desk(request: web.Request) -> web.Response:
        return json_response({"operator": request["operator"].username})

    @auth.require_api_token
    async def api(request: web.Request) -> web.Response:
        return json_response({"ok": True})

    app.router.add_get("/console", desk)
    app.router.add_get("/api/v1/thing", api)
    return app


async def _login(client, username="wang", password=PASSWORD, next_="/console"):
    return await client.post("/console/login", data={"username": username, "password": password, "next": next_},
                             allow_redirects=False)


def test_accounts_file_keeps_only_argon2_hashes(operators_file: Path):
    text = operators_file.read_text(encoding="utf-8")
    assert PASSWORD not in text and "$argon2id$" in text
    operators = auth.load_operators(operators_file)
    assert set(operators) == {"wang", "li"}
    assert operators["wang"].display_name == "王警官" and operators["wang"].roles == {"operator"}


def test_resetting_a_password_replaces_the_account(operators_file: Path):
    auth.save_operator(operators_file, "wang", "another password", "王警官")
    operators = auth.load_operators(operators_file)
    assert auth.verify_login(operators, "wang", "another password") is not None
    assert auth.verify_login(operators, "wang", PASSWORD) is None
    assert len(operators) == 2


@pytest.mark.parametrize("content, field", [
    ("operators: 3", "operators: must be a list"),
    ("operators:\n  - username: a\n    password_hash: secret123", "operators[0].password_hash"),
    ("operators:\n  - password_hash: $argon2id$x", "operators[0].username"),
    ("operators:\n  - {username: a, password_hash: $argon2id$x, roles: [boss]}", "operators[0].roles"),
    ("operators:\n  - {username: a, password_hash: $argon2id$x}\n  - {username: a, password_hash: $argon2id$y}",
     "operators[1].username: duplicate"),
])
def test_a_broken_accounts_file_names_the_file_and_field(tmp_path: Path, content: str, field: str):
    path = tmp_path / "ops.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(auth.OperatorFileError) as err:
        auth.load_operators(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_short_passwords_are_refused(tmp_path: Path):
    with pytest.raises(ValueError):
        auth.save_operator(tmp_path / "ops.yml", "x", "short")


def test_cli_adds_an_operator_from_stdin(tmp_path: Path, monkeypatch):
    import io

    path = tmp_path / "ops.yml"
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert auth.main(["add", "zhao", "--name", "赵警官", "--roles", "operator", "--password-stdin", "--file", str(path)]) == 0
    assert auth.verify_login(auth.load_operators(path), "zhao", "a long enough password").display_name == "赵警官"


async def test_no_login_means_the_login_page_never_the_data(aiohttp_client, operators_file: Path):
    client = await aiohttp_client(_app(operators_file))
    page = await client.get("/console", headers={"Accept": "text/html"}, allow_redirects=False)
    assert page.status == 302 and page.headers["Location"] in ("/console/login?next=%2Fconsole",
                                                               "/console/login?next=/console")
    api = await client.get("/console", headers={"Accept": "application/json"})
    assert api.status == 401 and "wang" not in await api.text()


async def test_login_then_logout(aiohttp_client, operators_file: Path):
    client = await aiohttp_client(_app(operators_file))
    response = await _login(client)
    assert response.status == 302 and response.headers["Location"] == "/console"
    desk = await client.get("/console")
    assert (await desk.json()) == {"operator": "wang"}
    await client.post("/console/logout", allow_redirects=False)
    assert (await client.get("/console", headers={"Accept": "text/html"}, allow_redirects=False)).status == 302


async def test_wrong_password_and_unknown_user_are_refused_alike(aiohttp_client, operators_file: Path):
    client = await aiohttp_client(_app(operators_file))
    for username, password in [("wang", "wrong password"), ("nobody", PASSWORD)]:
        response = await _login(client, username, password)
        assert response.status == 401
        assert "用户名或密码不对" in await response.text()
    assert (await client.get("/console", headers={"Accept": "text/html"}, allow_redirects=False)).status == 302


async def test_repeated_failures_are_throttled(aiohttp_client, operators_file: Path):
    client = await aiohttp_client(_app(operators_file))
    for _ in range(5):
        await _login(client, password="wrong password")
    response = await _login(client)  # even the right password, for a while
    assert response.status == 429


async def test_a_role_is_required_where_asked(aiohttp_client, operators_file: Path):
    client = await aiohttp_client(_app(operators_file))
    await _login(client, "li")
    response = await client.get("/console")
    assert response.status == 403


async def test_login_redirects_only_to_own_paths(aiohttp_client, operators_file: Path):
    client = await aiohttp_client(_app(operators_file))
    for evil in ["https://evil.example/", "//evil.example/", "/\\evil.example"]:
        response = await _login(client, next_=evil)
        assert response.headers["Location"] == "/console"


async def test_sessions_expire(aiohttp_client, operators_file: Path):
    client = await aiohttp_client(_app(operators_file, max_age=1))
    cookie = (await _login(client)).cookies["fzzc_session"].value
    assert (await client.get("/console")).status == 200
    time.sleep(2.1)  # the Fernet token's own timestamp is checked, whatever the browser keeps
    response = await client.get("/console", headers={"Accept": "application/json",
                                                      "Cookie": f"fzzc_session={cookie}"})
    assert response.status == 401


async def test_api_token_is_required(aiohttp_client, operators_file: Path):
    client = await aiohttp_client(_app(operators_file))
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "secret-token"},
                    {"Authorization": "Basic secret-token"}]:
        response = await client.get("/api/v1/thing", headers=headers)
        assert response.status == 401
        assert "error" in await response.json()
    ok = await client.get("/api/v1/thing", headers={"Authorization": "Bearer secret-token"})
    assert ok.status == 200


async def test_the_gateway_serves_the_login_page_with_a_strict_policy(aiohttp_client, monkeypatch, operators_file):
    monkeypatch.setenv("OPERATORS_FILE", str(operators_file))
    app = create_app(GatewayConfig("http://127.0.0.1:9", "http://127.0.0.1:9", frozenset({"t"})))
    client = await aiohttp_client(app)
    response = await client.get("/console/login")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "工作人员登录" in await response.text()


async def test_an_account_added_or_removed_acts_without_a_restart(aiohttp_client, operators_file: Path):
    client = await aiohttp_client(_app(operators_file))
    assert (await _login(client, "zhao")).status == 401
    auth.save_operator(operators_file, "zhao", PASSWORD, "赵警官", ["operator"])  # what `make operator` does
    response = await _login(client, "zhao")
    assert response.status == 302
    assert (await (await client.get("/console")).json()) == {"operator": "zhao"}
    # Removing the account ends its open session at the next request.
    text = operators_file.read_text(encoding="utf-8")
    kept = [e for e in yaml.safe_load(text)["operators"] if e["username"] != "zhao"]
    operators_file.write_text(yaml.safe_dump({"operators": kept}), encoding="utf-8")
    assert (await client.get("/console", headers={"Accept": "application/json"})).status == 401


def test_a_file_broken_by_hand_keeps_the_last_good_accounts(operators_file: Path):
    accounts = auth.OperatorAccounts(operators_file)
    assert accounts.get("wang") is not None
    operators_file.write_text("operators: 3", encoding="utf-8")
    assert accounts.get("wang") is not None and accounts.get("li") is not None
