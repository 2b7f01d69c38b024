"""`make run`: start the action server, Rasa and the gateway; stop them all together.

Runs in the foreground, prints the widget URL once /healthz says every component is
ready, and on Ctrl-C / SIGTERM (or when the action server or the gateway dies) stops
the others.

`make run PROFILE=prod` is the production profile on one machine, loopback only:
Redis (Debian's `redis-server` is started on REDIS_URL's port when nothing answers
there), RASA_REPLICAS Rasa processes on ports RASA_PORT, RASA_PORT+2, … sharing
conversations through the Redis tracker and lock stores (endpoints.production.yml,
masked), the action server, and the gateway spreading turns over the replicas
(bot/gateway/rasa_client.py). A replica (or the Redis this stack started) that dies is
started again after a back-off (1 s, doubling up to REPLICA_RESTART_MAX_S, reset once it
has run for a minute); the gateway passes a dead replica over and sends it turns again
once it answers.

Rasa's HTTP API (``--enable-api``) runs with ``--auth-token``: ``RASA_AUTH_TOKEN`` from
the environment, or a random one made for this start (`environment`), which the gateway
(a child, same environment) sends on every call. The token is never printed.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional
from urllib.parse import quote, urlsplit

from bot.settings import ROOT, Settings

MODEL = ROOT / "models" / "current.tar.gz"
STOP_GRACE_S = 20.0  # Rasa takes a while to shut down on a busy machine
PROD_ENDPOINTS = "endpoints.production.yml"
STABLE_AFTER_S = 60.0  # a restarted process that ran this long starts its back-off afresh


def replica_ports(settings: Settings) -> List[int]:
    """Rasa's ports: one in the default profile, RASA_REPLICAS in prod (RASA_PORT + 2·i)."""
    if not settings.prod:
        return [settings.rasa_port]
    return [settings.rasa_port + 2 * i for i in range(max(1, settings.rasa_replicas))]


def replica_urls(settings: Settings) -> List[str]:
    return [f"http://127.0.0.1:{port}" for port in replica_ports(settings)]


def _rasa_command(settings: Settings, port: int) -> List[str]:
    if not settings.rasa_auth_token:
        raise ValueError("RASA_AUTH_TOKEN is empty: build the settings from stack.environment()")
    endpoints = settings.rasa_endpoints
    if settings.prod and endpoints == "endpoints.yml":
        endpoints = PROD_ENDPOINTS
    return [
        str(settings.rasa_bin("rasa")), "run", "--enable-api", "--port", str(port),
        "--interface", settings.rasa_host,
        "--model", str(MODEL), "--endpoints", endpoints,
        "--credentials", "credentials.yml",
        "--auth-token", settings.rasa_auth_token,
    ]


def commands(settings: Settings) -> Dict[str, List[str]]:
    """Each process of the profile by name: actions, rasa (or rasa-1 … rasa-N), gateway."""
    actions = [str(settings.rasa_bin("rasa")), "run", "actions", "--port", str(settings.actions_port), "--actions", "actions"]
    gateway = [str(settings.gateway_python), "-m", "bot.gateway"]
    if not settings.prod:
        return {"actions": actions, "rasa": _rasa_command(settings, settings.rasa_port), "gateway": gateway}
    replicas = {f"rasa-{i + 1}": _rasa_command(settings, port) for i, port in enumerate(replica_ports(settings))}
    return {"actions": actions, **replicas, "gateway": gateway}


def missing_runtimes(settings: Settings) -> List[str]:
    """What of the two environments is not installed (Rasa's, the gateway's), in words."""
    wanted = {"Rasa's environment": settings.rasa_bin("rasa"), "the gateway's environment": settings.gateway_python}
    return [f"{what} is missing ({path})" for what, path in wanted.items() if not path.exists()]


def gateway_runtime(settings: Settings) -> Dict[str, str]:
    """The Python and aiohttp versions of the interpreter the stack starts the gateway with."""
    probe = "import platform, aiohttp; print(platform.python_version(), aiohttp.__version__)"
    out = subprocess.run([str(settings.gateway_python), "-c", probe], capture_output=True, text=True, timeout=60)
    versions = out.stdout.split()
    return {"python": versions[0], "aiohttp": versions[1]} if out.returncode == 0 and len(versions) == 2 else {}


def prod_redis_url(settings: Settings) -> str:
    return settings.redis_url or settings.prod_redis_url


def redis_address(url: str) -> tuple:
    """(host, port, db) of a redis:// URL."""
    parts = urlsplit(url)
    db = parts.path.strip("/") or "0"
    return parts.hostname or "127.0.0.1", parts.port or 6379, int(db)


def environment(base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The children's environment: `base` (this process's) with ports (and prod's stores) filled in."""
    env = dict(os.environ if base is None else base)
    settings = Settings.from_env(env)
    env.update(settings.as_env())  # endpoints.yml reads ${ACTIONS_PORT}
    env["RASA_TELEMETRY_ENABLED"] = "false"
    if not env.get("RASA_AUTH_TOKEN", "").strip():  # one per start; Rasa and the gateway share it
        env["RASA_AUTH_TOKEN"] = secrets.token_hex(32)  # hex: a token starting with "-" reads as an option to rasa run
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if settings.prod:
        url = prod_redis_url(settings)
        host, port, db = redis_address(url)
        env.update({
            "REDIS_URL": url,  # blocklist and statistics in the same Redis
            "REDIS_HOST": host, "REDIS_PORT": str(port),
            "REDIS_TRACKER_DB": str(db), "REDIS_LOCK_DB": str(db),
            "ACTION_ENDPOINT_URL": f"{settings.actions_base_url}/webhook",
            "RASA_URLS": ",".join(replica_urls(settings)),
            # Rasa's own variable: how long a dead replica's lock on a conversation lasts.
            "TICKET_LOCK_LIFETIME": str(settings.ticket_lock_lifetime),
        })
    return env


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def redis_answers(url: str) -> bool:
    import redis  # the Redis client Rasa's tracker store uses too

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def redis_server_command(port: int, data_dir: Path) -> List[str]:
    """Debian's redis-server on loopback, appending to a file so a restart keeps conversations."""
    return [
        shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port", str(port),
        "--dir", str(data_dir), "--appendonly", "yes", "--save", "", "--protected-mode", "yes",
    ]


@dataclass
class Component:
    """One supervised process; `restart` ones are started again when they die."""

    name: str
    cmd: List[str]
    restart: bool = False
    proc: Optional[subprocess.Popen] = None
    started_at: float = 0.0
    restarts: int = 0
    backoff_s: float = 1.0
    restart_at: Optional[float] = None
    awaiting_rejoin: Optional[str] = None  # health URL to watch after a restart

    def start(self, env: Dict[str, str]) -> None:
        # Own process group each, so a signal to one never leaks into the others.
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None
        print(f"[stack] started {self.name} (pid {self.proc.pid}): {' '.join(self.cmd[:3])} …", flush=True)


def stop_all(processes: Dict[str, subprocess.Popen]) -> None:
    for proc in processes.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for name, proc in processes.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[stack] {name} did not stop in time; killing it", flush=True)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _supervise(components: List[Component], env: Dict[str, str], settings: Settings) -> Optional[str]:
    """Restart what may be restarted; the name of a dead process that may not (None: all fine)."""
    now = time.monotonic()
    for c in components:
        if c.proc is None:
            continue
        code = c.proc.poll()
        if code is None:
            if c.awaiting_rejoin and healthy(c.awaiting_rejoin):
                print(f"[stack] {c.name} is ready again after restart #{c.restarts} "
                      f"({now - c.started_at:.0f} s); the gateway sends it turns again", flush=True)
                c.awaiting_rejoin = None
            continue
        if not c.restart:
            return c.name
        if c.restart_at is None:
            if now - c.started_at > STABLE_AFTER_S:
                c.backoff_s = 1.0
            c.restart_at = now + c.backoff_s
            print(f"[stack] {c.name} exited (code {code}); restarting in {c.backoff_s:.0f} s", file=sys.stderr, flush=True)
            c.backoff_s = min(settings.replica_restart_max_s, c.backoff_s * 2)
        elif now >= c.restart_at:
            c.restarts += 1
            c.start(env)
            if c.name.startswith("rasa"):
                port = c.cmd[c.cmd.index("--port") + 1]
                token = quote(settings.rasa_auth_token, safe="")  # /status needs Rasa's token
                c.awaiting_rejoin = f"http://127.0.0.1:{port}/status?token={token}"
    return None


def main() -> int:
    if not MODEL.exists():
        print(f"[stack] no trained model at {MODEL}; run `make run` (it trains first)", file=sys.stderr)
        return 1
    env = environment()
    settings = Settings.from_env(env)
    missing = missing_runtimes(settings)
    if missing:
        print(f"[stack] {'; '.join(missing)}: run `make install`", file=sys.stderr)
        return 1
    components: List[Component] = []
    if settings.prod:
        url = prod_redis_url(settings)
        host, port, _db = redis_address(url)
        if redis_answers(url):
            print(f"[stack] production profile: Redis answers at {host}:{port}", flush=True)
        elif host not in {"127.0.0.1", "localhost"}:
            print(f"[stack] no Redis answers at {host}:{port} (not loopback: not starting one)", file=sys.stderr)
            return 1
        else:
            data_dir = ROOT / "var" / f"redis-{port}"
            data_dir.mkdir(parents=True, exist_ok=True)
            print(f"[stack] no Redis answers at {host}:{port}; starting Debian's redis-server there "
                  f"(data in {data_dir})", flush=True)
            components.append(Component("redis", redis_server_command(port, data_dir), restart=True))
        print(f"[stack] production profile: {len(replica_ports(settings))} Rasa replicas on ports "
              f"{', '.join(map(str, replica_ports(settings)))}", flush=True)
    for name, cmd in commands(settings).items():
        components.append(Component(name, cmd, restart=settings.prod and name.startswith("rasa")))
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        print(f"\n[stack] {signal.Signals(signum).name} received, stopping …", flush=True)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started = time.monotonic()
    for c in components:
        c.start(env)
        if c.name == "redis":
            _wait_for_redis(prod_redis_url(settings))
    health_url = f"http://127.0.0.1:{settings.gateway_port}/healthz"
    announced = False
    exit_code = 0
    try:
        while not stopping:
            dead = _supervise(components, env, settings)
            if dead:
                print(f"[stack] {dead} exited; stopping the others", file=sys.stderr, flush=True)
                exit_code = 1
                break
            if not announced and healthy(health_url):
                announced = True
                print(
                    f"[stack] ready in {time.monotonic() - started:.0f} s\n"
                    f"[stack] 居民聊天窗口 widget: http://127.0.0.1:{settings.gateway_port}/\n"
                    f"[stack] health: {health_url}   (Ctrl-C stops everything)",
                    flush=True,
                )
            elif not announced and time.monotonic() - started > settings.startup_timeout_s:
                print(f"[stack] not healthy after {settings.startup_timeout_s:.0f} s; see the logs above", file=sys.stderr)
                exit_code = 1
                break
            time.sleep(0.5)
    finally:
        # Redis last: the replicas save their conversations on the way out.
        stop_all({c.name: c.proc for c in components if c.proc is not None and c.name != "redis"})
        stop_all({c.name: c.proc for c in components if c.proc is not None and c.name == "redis"})
        print("[stack] stopped", flush=True)
    return exit_code


def _wait_for_redis(url: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not redis_answers(url):
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
