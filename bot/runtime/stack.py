"""`make run`: start the action server, Rasa and the gateway; stop all three together.

Runs in the foreground, prints the widget URL once /healthz says every component is
ready, and on Ctrl-C / SIGTERM (or when any component dies) stops the others.

Rasa's HTTP API (``--enable-api``) runs with ``--auth-token``: ``RASA_AUTH_TOKEN`` from
the environment, or a random one made for this start (`environment`), which the gateway
(a child, same environment) sends on every call. The token is never printed.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

from bot.settings import ROOT, Settings

MODEL = ROOT / "models" / "current.tar.gz"
STOP_GRACE_S = 10.0


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def commands(settings: Settings) -> Dict[str, List[str]]:
    if not settings.rasa_auth_token:
        raise ValueError("RASA_AUTH_TOKEN is empty: build the settings from stack.environment()")
    return {
        "actions": [_bin("rasa"), "run", "actions", "--port", str(settings.actions_port), "--actions", "actions"],
        "rasa": [
            _bin("rasa"), "run", "--enable-api", "--port", str(settings.rasa_port),
            "--interface", settings.rasa_host,
            "--model", str(MODEL), "--endpoints", settings.rasa_endpoints,
            "--credentials", "credentials.yml",
            "--auth-token", settings.rasa_auth_token,
        ],
        "gateway": [sys.executable, "-m", "bot.gateway"],
    }


def environment(base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The children's environment: `base` (this process's) with the ports filled in."""
    env = dict(os.environ if base is None else base)
    env.update(Settings.from_env(env).as_env())  # endpoints.yml reads ${ACTIONS_PORT}
    env["RASA_TELEMETRY_ENABLED"] = "false"
    if not env.get("RASA_AUTH_TOKEN", "").strip():  # one per start; Rasa and the gateway share it
        env["RASA_AUTH_TOKEN"] = secrets.token_urlsafe(32)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


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


def main() -> int:
    if not MODEL.exists():
        print(f"[stack] no trained model at {MODEL}; run `make run` (it trains first)", file=sys.stderr)
        return 1
    env = environment()
    settings = Settings.from_env(env)
    processes: Dict[str, subprocess.Popen] = {}
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        print(f"\n[stack] {signal.Signals(signum).name} received, stopping …", flush=True)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started = time.monotonic()
    for name, cmd in commands(settings).items():
        print(f"[stack] starting {name}: {' '.join(cmd[:3])} …", flush=True)
        # Own process group each, so a signal to one never leaks into the others.
        processes[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    health_url = f"http://127.0.0.1:{settings.gateway_port}/healthz"
    announced = False
    exit_code = 0
    try:
        while not stopping:
            dead = [n for n, p in processes.items() if p.poll() is not None]
            if dead:
                print(f"[stack] {', '.join(dead)} exited; stopping the others", file=sys.stderr, flush=True)
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
        stop_all(processes)
        print("[stack] stopped", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
