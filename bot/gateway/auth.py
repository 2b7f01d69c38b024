"""Who may see what: operator logins for the pages, bearer tokens for the APIs.

- Operator accounts live in a YAML file (``OPERATORS_FILE``, default
  ``var/operators.yml``) with argon2 password hashes, never plain passwords::

      operators:
        - username: wang
          name: 王警官
          password_hash: "$argon2id$v=19$..."
          roles: [operator, outreach]

  Add or reset an account with ``python -m bot.gateway.auth add wang --name 王警官``
  (asks for the password twice; ``--password-stdin`` for scripts).
- Sessions are encrypted cookies (aiohttp-session + Fernet) that expire after
  ``SESSION_MAX_AGE`` seconds (default 8 hours, one shift).  ``SESSION_SECRET``
  (a Fernet key) keeps sessions valid across restarts and replicas; without it
  a random key is made at start-up, so a restart logs everyone out.
- Pages use ``@login_required()``: no session → 302 to ``/console/login``,
  never the data; JSON and websocket routes under a login get 401 instead.
- The operator and outreach APIs use ``@require_api_token``: ``Authorization:
  Bearer <token>`` with a token from ``API_TOKENS``; otherwise 401.
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import hmac
import logging
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple
from urllib.parse import quote

import aiohttp_jinja2
import yaml
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp_session import get_session, new_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet

from bot.gateway.errors import ApiError
from bot.gateway.ratelimit import LIMITER_KEY, LOGIN_LIMITED_TEXT, RateLimiter, client_address
from bot.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOGIN_PATH = "/console/login"
FORM_READ_SECONDS = 3.0
ROLES = ("operator", "outreach")
_hasher = PasswordHasher()
# A fixed hash to verify against when the username is unknown, so both cases take as long.
_DUMMY_HASH = _hasher.hash("no such operator")


# -- accounts ---------------------------------------------------------------------


@dataclass(frozen=True)
class Operator:
    username: str
    password_hash: str
    name: str = ""
    roles: FrozenSet[str] = field(default_factory=lambda: frozenset(ROLES))

    @property
    def display_name(self) -> str:
        return self.name or self.username


class OperatorFileError(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    return _hasher.hash(password)


def load_operators(path: Path) -> Dict[str, Operator]:
    """Read the accounts file; a missing file means no accounts (nobody can log in)."""
    if not path.exists():
        log.warning("%s not found: no operator can log in (add one with `python -m bot.gateway.auth add`)", path)
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = raw.get("operators") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise OperatorFileError(f"{path}: operators: must be a list of accounts")
    operators: Dict[str, Operator] = {}
    for i, entry in enumerate(entries):
        where = f"{path}: operators[{i}]"
        if not isinstance(entry, dict):
            raise OperatorFileError(f"{where}: must be a mapping")
        username, pw_hash = entry.get("username"), entry.get("password_hash")
        if not isinstance(username, str) or not username.strip():
            raise OperatorFileError(f"{where}.username: required")
        if not isinstance(pw_hash, str) or not pw_hash.startswith("$argon2"):
            raise OperatorFileError(f"{where}.password_hash: must be an argon2 hash, never a plain password")
        if username in operators:
            raise OperatorFileError(f"{where}.username: duplicate {username!r}")
        roles = entry.get("roles", list(ROLES))
        unknown = set(roles) - set(ROLES) if isinstance(roles, list) else {"?"}
        if unknown:
            raise OperatorFileError(f"{where}.roles: must be a list drawn from {list(ROLES)}")
        operators[username] = Operator(username, pw_hash, str(entry.get("name") or ""), frozenset(roles))
    return operators


class OperatorAccounts:
    """The accounts file, read again when it changes on disk (`make operator` needs no restart).

    Checked on every look-up by the file's (mtime, size, inode): one stat call, no parsing
    unless it changed. A file broken by hand keeps the last good accounts (logged once).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._signature: Optional[Tuple[int, int, int]] = None
        self._accounts: Dict[str, Operator] = {}
        self.current()

    def _stat(self) -> Optional[Tuple[int, int, int]]:
        try:
            st = self._path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def current(self) -> Dict[str, Operator]:
        signature = self._stat()
        if signature != self._signature:
            try:
                self._accounts = load_operators(self._path)
            except (OperatorFileError, yaml.YAMLError) as err:
                log.error("accounts file not reloaded, the previous accounts stay: %s", err)
            self._signature = signature
        return self._accounts

    def get(self, username: str) -> Optional[Operator]:
        return self.current().get(username)


def save_operator(path: Path, username: str, password: str, name: str = "", roles: Iterable[str] = ROLES) -> None:
    """Add an account, or replace the password, name and roles of an existing one."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    entries: List[dict] = list((raw or {}).get("operators") or [])
    entries = [e for e in entries if e.get("username") != username]
    entries.append({"username": username, "name": name, "password_hash": hash_password(password), "roles": list(roles)})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump({"operators": entries}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def verify_login(operators: Dict[str, Operator], username: str, password: str) -> Optional[Operator]:
    operator = operators.get(username)
    try:
        _hasher.verify(operator.password_hash if operator else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return operator


# -- configuration ----------------------------------------------------------------


@dataclass(frozen=True)
class AuthConfig:
    operators_file: Path
    session_secret: bytes
    session_max_age: int
    secure_cookies: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> "AuthConfig":
        secret = settings.session_secret.encode()
        if not secret:
            log.info("SESSION_SECRET not set: sessions end when the gateway restarts")
            secret = Fernet.generate_key()
        return cls(
            operators_file=settings.operators_file,
            session_secret=secret,
            session_max_age=settings.session_max_age,
            secure_cookies=settings.session_cookie_secure,
        )


OPERATORS_KEY = web.AppKey("operators", OperatorAccounts)
API_TOKENS_KEY = web.AppKey("api_tokens", frozenset)
AUTH_CONFIG_KEY = web.AppKey("auth_config", AuthConfig)
SESSION_USER = "operator"


# -- decorators -------------------------------------------------------------------


async def current_operator(request: web.Request) -> Optional[Operator]:
    session = await get_session(request)
    username = session.get(SESSION_USER)
    return request.app[OPERATORS_KEY].get(username) if username else None


def _wants_page(request: web.Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "") \
        and request.headers.get("Upgrade", "").lower() != "websocket"


def login_required(role: Optional[str] = None) -> Callable[[Handler], Handler]:
    """Pages and console endpoints: only for a logged-in operator (with `role`, if given).

    Sets ``request["operator"]`` to the :class:`Operator`.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            operator = await current_operator(request)
            if operator is None:
                if _wants_page(request):
                    raise web.HTTPFound(f"{LOGIN_PATH}?next={quote(request.path_qs, safe='')}")
                raise ApiError(401, "login required")
            if role and role not in operator.roles:
                raise ApiError(403, f"this account has no {role!r} role")
            request["operator"] = operator
            return await handler(request)

        return wrapper

    return decorate


def bearer_token(request: web.Request) -> Optional[str]:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def token_is_valid(tokens: Iterable[str], token: Optional[str]) -> bool:
    if not token:
        return False
    # Compare against every token, so the time taken says nothing about which one nearly matched.
    # surrogatepass: a header with raw non-UTF-8 bytes arrives with lone surrogates in it.
    given = token.encode("utf-8", "surrogatepass")
    return bool(sum(hmac.compare_digest(given, t.encode("utf-8", "surrogatepass")) for t in tokens))


def require_api_token(handler: Handler) -> Handler:
    """APIs for desk systems and outreach: 401 without a token listed in API_TOKENS."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        if not token_is_valid(request.app[API_TOKENS_KEY], bearer_token(request)):
            raise ApiError(401, "missing or invalid API token (Authorization: Bearer <token>)")
        return await handler(request)

    return wrapper


# -- login pages ------------------------------------------------------------------


def _safe_next(target: Optional[str]) -> str:
    """Only same-site paths, so the login page cannot be used to send people elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict:
    return {"next": _safe_next(request.query.get("next")), "error": None, "username": ""}


async def read_form(request: web.Request) -> Optional[Mapping[str, Any]]:
    """A posted form, or None when it cannot be read (broken multipart, bad bytes, too slow)."""
    try:
        return await asyncio.wait_for(request.post(), FORM_READ_SECONDS)
    except (ValueError, AssertionError, LookupError, asyncio.TimeoutError, HttpProcessingError) as err:
        log.info("form refused: %s", type(err).__name__)
        return None


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    if form is None:
        context = {"next": "/console", "error": "表单无法读取，请刷新页面再试。", "username": ""}
        return aiohttp_jinja2.render_template("login.html", request, context, status=400)
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")))
    # Wrong logins are limited per username and per address (bot/gateway/ratelimit.py).
    limiter, address = request.app[LIMITER_KEY], client_address(request)
    wait = limiter.blocked("login_username", username) or limiter.blocked("login_address", address)
    if wait is not None:
        error, status = LOGIN_LIMITED_TEXT.format(minutes=max(1, math.ceil(wait / 60))), 429
    else:
        operator = verify_login(request.app[OPERATORS_KEY].current(), username, password)
        if operator:
            limiter.clear("login_username", username)
            session = await new_session(request)  # a fresh session id on every login
            session[SESSION_USER] = operator.username
            log.info("operator %s logged in", operator.username)
            raise web.HTTPFound(target)
        limiter.hit("login_username", username)
        limiter.hit("login_address", address)
        error, status = "用户名或密码不对。", 401
    context = {"next": target, "error": error, "username": username}
    response = aiohttp_jinja2.render_template("login.html", request, context, status=status)
    if wait is not None:
        response.headers["Retry-After"] = str(wait)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPFound(LOGIN_PATH)


def setup_auth(app: web.Application, api_tokens: Iterable[str], config: Optional[AuthConfig] = None) -> None:
    """Sessions, the operator accounts, the API tokens and the login/logout routes."""
    config = config or AuthConfig.from_settings(Settings())
    storage = EncryptedCookieStorage(
        Fernet(config.session_secret),
        cookie_name="fzzc_session",
        max_age=config.session_max_age,
        httponly=True,
        samesite="Strict",
        secure=config.secure_cookies,
        path="/",
    )
    setup_session(app, storage)
    app[AUTH_CONFIG_KEY] = config
    app[OPERATORS_KEY] = OperatorAccounts(config.operators_file)
    if LIMITER_KEY not in app:  # an app without create_app (tests, tools): limits from the settings
        app[LIMITER_KEY] = RateLimiter.from_settings(Settings())
    app[API_TOKENS_KEY] = frozenset(api_tokens)
    app.router.add_get(LOGIN_PATH, login_page)
    app.router.add_post(LOGIN_PATH, login_submit)
    app.router.add_post("/console/logout", logout)


# -- command line -----------------------------------------------------------------


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.gateway.auth", description="Manage operator accounts.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add an operator, or reset one's password")
    add.add_argument("username")
    add.add_argument("--name", default="", help="name shown in the console, e.g. 王警官")
    add.add_argument("--roles", default=",".join(ROLES), help=f"comma-separated, from {','.join(ROLES)}")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--file", type=Path, default=None, help="accounts file (default: $OPERATORS_FILE or var/operators.yml)")
    args = parser.parse_args(argv)

    path = args.file or Settings().operators_file
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    if not roles or set(roles) - set(ROLES):
        parser.error(f"--roles must be drawn from {','.join(ROLES)}")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("the two passwords differ", file=sys.stderr)
            return 2
    try:
        save_operator(path, args.username, password, args.name, roles)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"saved operator {args.username!r} in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
