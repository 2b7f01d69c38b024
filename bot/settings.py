"""Every setting of every process, in one place: names, defaults, and how they are read.

A process reads its settings once, at its entry point (`Settings()` — the environment —
or `Settings.from_env(mapping)`), and hands the object (or the parts a component needs)
down; no other module reads the environment. The defaults below are the only copy:
the Makefile asks `python -m bot.settings RASA_PORT` for the port defaults, the stack
and the gateway read them from here.

Each field is read from the environment variable of the same name in upper case
(`redis_url` ← `REDIS_URL`); an empty value counts as unset.

    python -m bot.settings RASA_PORT ACTIONS_PORT   # prints the values, one a line
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import FrozenSet, List, Mapping, Optional

# pydantic 1.10 in Rasa's environment, pydantic 2 (the same API as `pydantic.v1`) in the gateway's:
# as bot.kb.pydantic_v1 does, here without importing bot.kb (`python -m bot.settings` stays light).
try:  # pragma: no cover - depends on the installed pydantic
    from pydantic.v1 import BaseSettings, validator
except ImportError:  # pragma: no cover
    from pydantic import BaseSettings, validator

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    # -- ports and addresses (make run, the stack, the gateway) ---------------------------
    rasa_port: int = 5005
    actions_port: int = 5055
    gateway_port: int = 8080
    gateway_host: str = "127.0.0.1"
    rasa_host: str = "127.0.0.1"  # where `rasa run` listens (the stack passes it on)
    rasa_endpoints: str = "endpoints.yml"  # endpoints.production.yml for the production profile
    rasa_url: Optional[str] = None  # default: http://127.0.0.1:<rasa_port>
    actions_url: Optional[str] = None  # default: http://127.0.0.1:<actions_port>
    startup_timeout_s: float = 180.0

    # -- the two runtimes (issue 17; README, "Two runtimes") ------------------------------------
    # Rasa and the action server run from RASA_VENV (Python 3.10, Rasa's pins), the gateway
    # from GATEWAY_VENV (Python 3.12, requirements-gateway.txt). Relative paths: from the
    # project's root. `make` passes its VENV and GATEWAY_VENV.
    rasa_venv: Path = Path(".venv")
    gateway_venv: Path = Path(".venv-gateway")

    # -- production profile (`make run PROFILE=prod`, bot/runtime/stack.py) ----------------
    profile: str = "default"  # "prod": Redis, RASA_REPLICAS Rasa processes, the gateway spreading turns
    rasa_replicas: int = 2  # prod: replica i listens on RASA_PORT + 2·i (Rasa's own port + 1 stays free)
    # The gateway's replicas, comma-separated; default: the one RASA_URL. The stack sets it.
    rasa_urls: str = ""
    # Prod: where the Redis tracker + lock stores live when REDIS_URL is unset.
    prod_redis_url: str = "redis://127.0.0.1:6379/0"
    # Rasa's ticket lock lifetime (s) in prod: a replica killed mid-turn keeps its
    # conversation locked this long (Rasa's default is 60 s; a turn takes well under 1 s).
    ticket_lock_lifetime: int = 5
    chat_timeout_s: float = 10.0  # the gateway's wait for one replica's answer to one turn
    # With one Rasa (no replica to retry on) the gateway waits this long for a turn's answer in
    # the background (the resident has the degraded reply after degraded_after_s): giving up
    # sooner would leave unknown whether Rasa stored the turn, and a resend would duplicate it.
    single_rasa_turn_timeout_s: float = 300.0
    replica_restart_max_s: float = 30.0  # back-off cap between restarts of a dead replica

    # -- `make compose-test` (bot/quality/compose_test.py, docker/compose.test.yml) -------------
    compose_test_port: int = 18000  # gateway; Rasa +1 and +3, actions +10, Redis +20
    base_image: str = "fanzha-base:bookworm-py3.10"  # the local one scripts/docker-base.sh makes
    gateway_base_image: str = "fanzha-base:bookworm-py3.12"  # the gateway's (Python 3.12)

    # -- operators, APIs, sessions ----------------------------------------------------------
    api_tokens: str = ""  # comma-separated
    operators_file: Path = Path("var/operators.yml")
    session_secret: str = ""  # a Fernet key; empty: a random one per start
    session_max_age: int = 8 * 3600
    session_cookie_secure: bool = False

    # -- stores --------------------------------------------------------------------------------
    cases_url: str = "sqlite:///var/cases.db"
    cases_tz: str = "Asia/Shanghai"
    redis_url: Optional[str] = None  # blocklist and statistics in Redis
    stats_redis_url: Optional[str] = None
    stats_redis_prefix: str = "fzzc:stats:"
    stats_db: str = "var/stats.db"
    # Shared verdicts ("发给家人看看", bot/share): Redis when REDIS_URL is set, else this SQLite file.
    share_db: str = "var/shares.db"
    share_redis_prefix: str = "fzzc:share:"
    share_ttl_s: int = 7 * 24 * 3600  # a shared page lives seven days
    blocklist_file: Path = ROOT / "var" / "blocklist.csv"
    blocklist_prefix: str = "fanzha:blocklist:"

    # -- degraded mode (bot/gateway/degraded.py) ------------------------------------------------
    # A chat turn that Rasa has not answered by then is answered from bot.kb, its message kept.
    degraded_after_s: float = 3.0
    pending_max_messages: int = 5  # kept per sender, the oldest dropped
    pending_ttl_s: int = 3600
    # -- knowledge base ------------------------------------------------------------------------
    # Where the gateway and the action server load the KB from (and reload it: `make reload`).
    kb_dir: Path = ROOT / "data" / "kb"

    # -- extraction ---------------------------------------------------------------------------
    # The spaCy pipeline `make build` writes; when set explicitly it is used even if older
    # than its sources.
    fanzha_spacy_pipeline: Optional[Path] = None
    # The loss-stage model `make build` writes (bot.kb.stage_train); missing: rules only.
    stage_model_file: Path = ROOT / "build" / "stage_model.json"
    # The action server loads its pipelines when it starts, not on the first turn (actions/).
    fanzha_warm_up: bool = True

    # -- channels -------------------------------------------------------------------------------
    public_url: str = ""
    wechat_token: str = ""
    wechat_encoding_aes_key: str = ""
    wechat_app_id: str = ""
    wechat_max_clock_skew_s: int = 300  # a signed request older or newer than this is refused (replay)
    wechat_dedupe_ttl_s: int = 120  # how long a (user, MsgId) is remembered for WeChat's retries
    # WeChat's API (the token, pushing alerts to subscribers, fetching pictures by MediaId):
    # off unless WECHAT_APP_ID and WECHAT_APP_SECRET are set. The base URL is WeChat's own;
    # tests point it at a local server.
    wechat_app_secret: str = ""
    wechat_api_base_url: str = "https://api.weixin.qq.com/cgi-bin/"
    alert_push_rate: float = 20.0  # messages per second, every attempt counted (retries too)
    alert_push_retries: int = 3  # further attempts after a transient failure (busy, rate limit, network)
    alert_push_backoff_s: float = 1.0  # first back-off; doubled per attempt, with jitter
    alert_push_timeout_s: float = 10.0  # one HTTP call to WeChat
    alert_push_workers: int = 4  # calls in flight at once

    # -- community alerts (bot/alerts) ------------------------------------------------------------
    # In Redis when REDIS_URL is set (under this prefix), else in this SQLite file
    # (":memory:": in the process only).
    alerts_db: str = "var/alerts.db"
    alerts_redis_prefix: str = "fzzc:alerts:"
    # Pictures residents send (bot/gateway/wechat_media.py): by PicUrl from these hosts, else by
    # MediaId through the media API at WECHAT_API_BASE_URL (needs WECHAT_APP_SECRET for its token).
    wechat_pic_hosts: str = "mmbiz.qpic.cn,mmbiz.qlogo.cn"  # comma-separated host[:port]
    wechat_media_max_bytes: int = 5 * 1024 * 1024  # as POST /api/v1/assess/image
    wechat_media_timeout_s: float = 2.0  # the whole download; WeChat waits 5 s for the reply

    # -- the edge: rate limits, embedding, Rasa's API token (issue 13) -----------------------------
    # `limits` rate strings ("20/minute", "5 per 5 minutes"); per client address and per sender.
    # Stored in Redis (REDIS_URL) when set, so every gateway replica counts together.
    rate_limits_enabled: bool = True
    rate_limit_chat_sender: str = "20/minute"
    rate_limit_chat_in_flight: int = 2  # turns of one sender running at once
    rate_limit_tarpit_s: float = 2.0  # a refused API request is answered this much later (0: at once)
    rate_limit_chat_address: str = "300/minute"
    rate_limit_assess_address: str = "120/minute"
    rate_limit_wechat_sender: str = "20/minute"
    rate_limit_wechat_address: str = "3000/minute"  # every user's messages come from WeChat's servers
    rate_limit_login_address: str = "20/15 minutes"  # wrong logins
    rate_limit_login_username: str = "5/5 minutes"  # wrong logins
    rate_limit_prefix: str = "fzzc:ratelimit"
    # Websites that may frame the widget and fetch embed.js / call the chat API from the browser:
    # space- or comma-separated origins ("https://sq.example.cn"); "*" = any site may frame it.
    embed_origins: str = "*"
    # Token of Rasa's HTTP API (`rasa run --auth-token`); the stack makes one per start when unset.
    rasa_auth_token: str = ""

    class Config:
        case_sensitive = False

    @validator("*", pre=True)
    def _empty_is_unset(cls, value, field):  # noqa: N805 - pydantic passes the class
        if isinstance(value, str) and not value.strip():
            return field.default
        return value

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        """Settings from `env` alone (a child process's environment, a test), not os.environ."""
        known = {name.upper(): name for name in cls.__fields__}
        return _ExplicitSettings(**{known[k.upper()]: v for k, v in env.items() if k.upper() in known})

    # -- derived values ---------------------------------------------------------------------------
    @property
    def rasa_base_url(self) -> str:
        return self.rasa_url or f"http://127.0.0.1:{self.rasa_port}"

    @property
    def actions_base_url(self) -> str:
        return self.actions_url or f"http://127.0.0.1:{self.actions_port}"

    @property
    def rasa_base_urls(self) -> List[str]:
        """Every Rasa replica the gateway spreads turns over (one, unless RASA_URLS names more)."""
        urls = [u.strip().rstrip("/") for u in self.rasa_urls.split(",") if u.strip()]
        return urls or [self.rasa_base_url]

    @property
    def prod(self) -> bool:
        return self.profile.strip().lower() in {"prod", "production"}

    @property
    def tokens(self) -> FrozenSet[str]:
        return frozenset(t.strip() for t in self.api_tokens.split(",") if t.strip())

    @property
    def embed_origin_list(self) -> List[str]:
        """EMBED_ORIGINS as a list; ["*"] when any site may embed the widget."""
        origins = [o.strip().rstrip("/") for o in self.embed_origins.replace(",", " ").split() if o.strip()]
        return ["*"] if not origins or "*" in origins else origins

    @property
    def wechat_pic_host_list(self) -> List[str]:
        return [h.strip().lower() for h in self.wechat_pic_hosts.split(",") if h.strip()]

    def rasa_bin(self, name: str) -> Path:
        """An executable of Rasa's environment (`rasa`, `python`)."""
        return (ROOT / self.rasa_venv) / "bin" / name

    @property
    def gateway_python(self) -> Path:
        """The gateway's interpreter (Python ≥ 3.12, its own environment)."""
        return (ROOT / self.gateway_venv) / "bin" / "python"

    @property
    def spacy_pipeline_dir(self) -> Path:
        return self.fanzha_spacy_pipeline or ROOT / "build" / "spacy_zh"

    def as_env(self) -> dict:
        """The settings a child process needs in its environment (ports, endpoints)."""
        return {
            "RASA_PORT": str(self.rasa_port),
            "ACTIONS_PORT": str(self.actions_port),
            "GATEWAY_PORT": str(self.gateway_port),
        }


class _ExplicitSettings(Settings):
    """Settings that ignore the process environment (see `Settings.from_env`)."""

    class Config:
        @classmethod
        def customise_sources(cls, init_settings, env_settings, file_secret_settings):
            return (init_settings,)


def main(argv: Optional[List[str]] = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    settings = Settings()
    fields = {name.upper(): name for name in Settings.__fields__}
    unknown = [n for n in names if n.upper() not in fields]
    if not names or unknown:
        print(f"usage: python -m bot.settings NAME… (unknown: {', '.join(unknown)})", file=sys.stderr)
        return 2
    for name in names:
        print(getattr(settings, fields[name.upper()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
