"""Security headers on every response, CORS for the embed snippet, Rasa's API token (issue 13)."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bot.gateway.app import GatewayConfig, create_app
from bot.runtime import stack
from bot.settings import Settings
from tests.fake_rasa import fake_rasa_app

SITE = "https://sq.example.cn"


def _settings(**env: str) -> Settings:
    return Settings.from_env({"OPERATORS_FILE": "/nonexistent/operators.yml", **env})


@pytest.fixture
async def rasa_url(aiohttp_server):
    return str((await aiohttp_server(fake_rasa_app())).make_url("")).rstrip("/")


async def _client(aiohttp_client, rasa_url, mini_kb, **env: str):
    return await aiohttp_client(create_app(GatewayConfig(rasa_url, rasa_url), kb=mini_kb, settings=_settings(**env)))


def _assert_hardened(response, framed_by: str = "'none'") -> None:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] in ("no-referrer", "same-origin")
    csp = headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert f"frame-ancestors {framed_by}" in csp
    assert headers["Server"] == "fzzc-gateway"
    assert "aiohttp" not in headers["Server"] and "Python" not in headers["Server"]


REQUESTS = [
    ("POST", "/api/v1/assess", {"json": {"text": "让我把钱转到安全账户"}}, 200),
    ("POST", "/api/v1/chat", {"json": {"sender": "u", "message": "你好"}}, 200),
    ("POST", "/api/v1/assess", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
    ("POST", "/api/v1/assess", {"data": b"x" * (70 * 1024), "headers": {"Content-Type": "application/json"}}, 413),
    ("GET", "/api/v1/assess", {}, 405),
    ("GET", "/api/openapi.json", {}, 200),
    ("GET", "/healthz", {}, 200),
    ("GET", "/no/such/page", {}, 404),
    ("GET", "/widget/widget.js", {}, 200),
    ("GET", "/widget/../app.py", {}, 404),
    ("GET", "/console/login", {}, 200),
    ("GET", "/console", {"headers": {"Accept": "text/html"}, "allow_redirects": False}, 302),
]


@pytest.mark.parametrize("method, path, kwargs, status", REQUESTS, ids=[f"{m} {p} {s}" for m, p, _, s in REQUESTS])
async def test_every_response_carries_the_security_headers(aiohttp_client, rasa_url, mini_kb, method, path, kwargs,
                                                           status):
    client = await _client(aiohttp_client, rasa_url, mini_kb)
    response = await client.request(method, path, **kwargs)
    assert response.status == status
    _assert_hardened(response)
    assert response.headers["X-Frame-Options"] == "DENY"


async def test_the_widget_page_may_be_framed_by_any_site_by_default(aiohttp_client, rasa_url, mini_kb):
    client = await _client(aiohttp_client, rasa_url, mini_kb)
    for path in ("/", "/?embed=1"):
        response = await client.get(path)
        assert response.status == 200
        _assert_hardened(response, framed_by="*")
        assert "X-Frame-Options" not in response.headers
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


async def test_embed_origins_limit_who_frames_the_widget_and_loads_embed_js(aiohttp_client, rasa_url, mini_kb):
    client = await _client(aiohttp_client, rasa_url, mini_kb, EMBED_ORIGINS=f"{SITE}, https://b.example.cn")
    page = await client.get("/?embed=1")
    _assert_hardened(page, framed_by=f"'self' {SITE} https://b.example.cn")
    listed = await client.get("/widget/embed.js", headers={"Origin": SITE})
    assert listed.status == 200 and listed.headers["Access-Control-Allow-Origin"] == SITE
    assert "Origin" in listed.headers.getall("Vary")
    other = await client.get("/widget/embed.js", headers={"Origin": "https://evil.example"})
    assert other.status == 200 and "Access-Control-Allow-Origin" not in other.headers


async def test_any_site_loads_embed_js_by_default(aiohttp_client, rasa_url, mini_kb):
    client = await _client(aiohttp_client, rasa_url, mini_kb)
    response = await client.get("/widget/embed.js", headers={"Origin": "https://any.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_the_chat_api_answers_cross_origin_calls_only_from_listed_sites(aiohttp_client, rasa_url, mini_kb):
    client = await _client(aiohttp_client, rasa_url, mini_kb, EMBED_ORIGINS=SITE)
    preflight = await client.options("/api/v1/chat", headers={
        "Origin": SITE, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == SITE
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST"
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    _assert_hardened(preflight)
    call = await client.post("/api/v1/chat", json={"sender": "u", "message": "你好"}, headers={"Origin": SITE})
    assert call.status == 200 and call.headers["Access-Control-Allow-Origin"] == SITE
    evil = await client.options("/api/v1/chat", headers={"Origin": "https://evil.example",
                                                         "Access-Control-Request-Method": "POST"})
    assert evil.status == 405 and "Access-Control-Allow-Origin" not in evil.headers
    evil_call = await client.post("/api/v1/chat", json={"sender": "u", "message": "你好"},
                                  headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in evil_call.headers


async def test_a_broken_request_line_gets_no_server_version(aiohttp_server, rasa_url, mini_kb):
    server = await aiohttp_server(create_app(GatewayConfig(rasa_url, rasa_url), kb=mini_kb, settings=_settings()))
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"GARBAGE / HTTP/9.9\r\n\r\n")  # answered by aiohttp's protocol, not by a handler
    head = (await asyncio.wait_for(reader.read(4096), 5)).decode("latin-1")
    writer.close()
    assert head.startswith("HTTP/1.0 400") and "Server: fzzc-gateway" in head
    assert "aiohttp" not in head and "Python/" not in head


# -- Rasa's HTTP API token --------------------------------------------------------------------------


def test_the_stack_starts_rasa_with_an_auth_token_made_per_start():
    first, second = stack.environment({}), stack.environment({})
    assert len(first["RASA_AUTH_TOKEN"]) >= 32 and first["RASA_AUTH_TOKEN"] != second["RASA_AUTH_TOKEN"]
    rasa = stack.commands(Settings.from_env(first))["rasa"]
    assert rasa[rasa.index("--auth-token") + 1] == first["RASA_AUTH_TOKEN"]
    assert "--enable-api" in rasa


def test_the_stack_uses_the_token_from_the_environment_and_never_runs_without_one():
    env = stack.environment({"RASA_AUTH_TOKEN": "from-the-environment"})
    assert env["RASA_AUTH_TOKEN"] == "from-the-environment"
    rasa = stack.commands(Settings.from_env(env))["rasa"]
    assert rasa[rasa.index("--auth-token") + 1] == "from-the-environment"
    with pytest.raises(ValueError, match="RASA_AUTH_TOKEN"):
        stack.commands(Settings.from_env({}))


def _rasa_requiring(token: str) -> web.Application:
    """The fake Rasa, but like `rasa run --auth-token`: 401 without ?token=."""
    app = fake_rasa_app()

    @web.middleware
    async def requires_token(request, handler):
        if request.path != "/health" and request.query.get("token") != token:
            return web.json_response({"status": "failure"}, status=401)
        return await handler(request)

    app.middlewares.append(requires_token)
    return app


async def test_the_gateway_sends_rasas_token_on_every_call(aiohttp_client, aiohttp_server, mini_kb):
    rasa_app = _rasa_requiring("s3cret")
    url = str((await aiohttp_server(rasa_app)).make_url("")).rstrip("/")
    settings = _settings(RASA_URL=url, ACTIONS_URL=url, RASA_AUTH_TOKEN="s3cret")
    client = await aiohttp_client(create_app(kb=mini_kb, settings=settings))
    assert (await client.get("/healthz")).status == 200
    assert (await client.post("/api/v1/assess", json={"text": "让我把钱转到安全账户"})).status == 200
    assert (await client.post("/api/v1/chat", json={"sender": "u", "message": "你好"})).status == 200
    assert [kind for kind, _ in rasa_app["received"]] == ["parse", "webhook"]  # both let in by the token
    without = await aiohttp_client(create_app(kb=mini_kb, settings=_settings(RASA_URL=url, ACTIONS_URL=url)))
    assert (await without.get("/healthz")).status == 503  # Rasa refuses a gateway without the token
    await without.post("/api/v1/assess", json={"text": "让我把钱转到安全账户"})  # (answered in degraded mode)
    assert [kind for kind, _ in rasa_app["received"]] == ["parse", "webhook"]  # nothing more got through
