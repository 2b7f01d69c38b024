"""`make compose-test`: build the images, run docker/compose.yml for real, check it, tear it down.

1. dockerd answers (started here, with no bridge, when it does not and this is root);
   the base image exists (BASE_IMAGE; the local one is made by scripts/docker-base.sh).
2. `docker build` of the Rasa image (with the trained model from models/) and the gateway's.
3. docker/compose.yml + docker/compose.test.yml, merged (`compose config`), up: every service
   on the host's network (checked before anything starts, so no bridge network is ever
   created; published ports dropped, as Docker refuses them there), loopback ports from
   COMPOSE_TEST_PORT (gateway B, Rasa B+1 and B+3, actions B+10, Redis B+20).
4. Through the gateway: a whole self-check (describe, answer until the verdict); then a second
   resident describes, the Rasa container that served them is stopped, and they answer on
   until the verdict: every turn gets a reply, the answers count as answers (the check goes
   on, no fresh start), and the surviving replica's tracker holds every user turn in order.
5. Down (containers, the volume), whatever happened: also on Ctrl-C and SIGTERM.

Writes reports/compose-test.json (timings of each step) and reports/compose-test.log.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import yaml

from bot.quality.selfcheck import SITUATIONS, has_verdict, is_reply, next_answer, sent_to_rasa
from bot.settings import ROOT, Settings

REPORTS = ROOT / "reports"
COMPOSE_FILES = ("docker/compose.yml", "docker/compose.test.yml")
# What scripts/docker-base.sh makes: each image's local base, with the Python it carries.
LOCAL_BASES = {
    Settings.__fields__["base_image"].default: "3.10",
    Settings.__fields__["gateway_base_image"].default: "3.12",
}
PROJECT = "fanzhatest"
HEALTHY_TIMEOUT_S = 300.0
MAX_TURNS = 10


class Failed(Exception):
    """A check of the compose test did not hold."""


@dataclass
class Ports:
    gateway: int
    rasa: int
    rasa_2: int
    actions: int
    redis: int

    @classmethod
    def from_base(cls, base: int) -> "Ports":
        return cls(gateway=base, rasa=base + 1, rasa_2=base + 3, actions=base + 10, redis=base + 20)

    def busy(self) -> List[int]:
        taken = []
        for port in vars(self).values():
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("0.0.0.0", port))  # the action server listens on every address
                except OSError:
                    taken.append(port)
        return taken


@dataclass
class Run:
    """What one compose test did, for the report."""

    log: Path
    timings_s: Dict[str, float] = field(default_factory=dict)
    checks: Dict[str, Any] = field(default_factory=dict)

    def step(self, name: str, started: float) -> None:
        self.timings_s[name] = round(time.monotonic() - started, 1)
        print(f"[compose-test] {name}: {self.timings_s[name]} s", flush=True)


def sh(cmd: Sequence[str], log: Path, env: Optional[Dict[str, str]] = None, check: bool = True,
       timeout: Optional[float] = None) -> subprocess.CompletedProcess:
    """Run a command, its output appended to the log (docker builds say a lot)."""
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        done = subprocess.run(list(cmd), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                              timeout=timeout)
    if check and done.returncode != 0:
        raise Failed(f"`{' '.join(cmd[:4])} …` exited {done.returncode} (see {log})")
    return done


def docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def start_dockerd(log: Path) -> Optional[subprocess.Popen]:
    """dockerd with no default bridge (and no iptables rules): containers use the host's network."""
    if docker_answers():
        return None
    if not shutil.which("dockerd") or os.geteuid() != 0:
        raise Failed("no Docker engine answers; install docker.io (see README, 'Docker') and start dockerd")
    print("[compose-test] starting dockerd (--bridge=none) …", flush=True)
    proc = subprocess.Popen(["dockerd", "--bridge=none", "--iptables=false", "--ip-masq=false"],
                            stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(60):
        if docker_answers():
            return proc
        time.sleep(0.5)
    raise Failed("dockerd did not answer within 30 s")


def compose_command() -> List[str]:
    """`docker compose` (v2 plugin) where it is installed, else Debian's docker-compose (v1)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise Failed("neither `docker compose` nor docker-compose is installed (apt-get install docker-compose)")


def compose_env(ports: Ports, images: Dict[str, str], state: Path) -> Dict[str, str]:
    from cryptography.fernet import Fernet

    from bot.gateway.auth import save_operator

    operators = state / "operators.yml"
    save_operator(operators, "compose", secrets.token_urlsafe(12), name="compose test")
    operators.chmod(0o644)  # read by the gateway's user in the container
    env = dict(os.environ)
    env.update({
        "COMPOSE_PROJECT_NAME": PROJECT,
        "BASE_IMAGE": images["base"], "GATEWAY_BASE_IMAGE": images["gateway_base"],
        "RASA_IMAGE": images["rasa"], "GATEWAY_IMAGE": images["gateway"],
        "GATEWAY_PORT": str(ports.gateway), "GATEWAY_PUBLISH": str(ports.gateway),
        "RASA_PORT": str(ports.rasa), "RASA_2_PORT": str(ports.rasa_2), "RASA_INTERFACE": "127.0.0.1",
        "ACTIONS_PORT": str(ports.actions), "REDIS_PORT": str(ports.redis),
        "RASA_AUTH_TOKEN": secrets.token_hex(16),
        "PUBLIC_URL": f"http://127.0.0.1:{ports.gateway}/",
        "API_TOKENS": secrets.token_hex(16),
        "SESSION_SECRET": Fernet.generate_key().decode(),
        "OPERATORS_SECRET_FILE": str(operators),
    })
    return env


def host_network_only(config_text: str) -> str:
    """The merged compose file to run: every service on the host's network, else refused.

    Published ports are dropped: Docker refuses them with host networking, and compose v1
    cannot reset a list from an override file (the ports are the host's own anyway)."""
    config = yaml.safe_load(config_text)
    services = config["services"]
    bridged = sorted(name for name, svc in services.items() if svc.get("network_mode") != "host")
    if bridged or config.get("networks"):
        raise Failed(f"services not on the host network: {', '.join(bridged) or 'networks defined'}")
    for service in services.values():
        service.pop("ports", None)
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


def http_json(method: str, url: str, body: Optional[dict] = None, timeout: float = 30.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        return json.loads(err.read() or b"{}") | {"_status": err.code}


def wait_healthy(base: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    body: dict = {}
    while time.monotonic() < deadline:
        try:
            body = http_json("GET", f"{base}/healthz", timeout=5)
            if body.get("status") == "ok":
                return body
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(2)
    raise Failed(f"the gateway was not healthy within {timeout_s:.0f} s: {body}")


def turns(base: str, sender: str, first: str, rng: random.Random) -> Iterator[tuple]:
    """A self-check: (message, replies) for the description, then each answer until the verdict."""
    message: Optional[str] = first
    for _ in range(MAX_TURNS):
        assert message is not None
        replies = http_json("POST", f"{base}/api/v1/chat", {"sender": sender, "message": message})
        if not is_reply(replies):
            raise Failed(f"{sender}: no reply to {message!r}: {replies}")
        if any(isinstance(m.get("custom"), dict) and m["custom"].get("degraded") for m in replies):
            raise Failed(f"{sender}: the gateway answered {message!r} without Rasa (degraded mode)")
        yield message, replies
        if has_verdict(replies):
            return
        answer = next_answer(replies, rng)
        if answer is None:
            raise Failed(f"{sender}: neither a question nor a verdict after {message!r}: {replies}")
        message = answer
    raise Failed(f"{sender}: no verdict within {MAX_TURNS} turns")


def warm_up(ports: Ports) -> None:
    """One turn on each replica first: a replica's first turn loads what it loads lazily."""
    for port in (ports.rasa, ports.rasa_2):
        replies = http_json("POST", f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                            {"sender": f"warm-up-{port}", "message": SITUATIONS[2]}, timeout=120)
        if not is_reply(replies):
            raise Failed(f"Rasa on {port} did not answer its warm-up turn: {replies}")


def replica_turns(base: str) -> List[int]:
    return [r["turns"] for r in http_json("GET", f"{base}/healthz", timeout=5).get("replicas", [])]


def stored_user_texts(rasa_url: str, token: str, sender: str) -> List[str]:
    tracker = http_json("GET", f"{rasa_url}/conversations/{sender}/tracker?token={token}")
    return [e.get("text") for e in tracker.get("events", []) if e.get("event") == "user"]


def scenario(run: Run, compose: List[str], env: Dict[str, str], ports: Ports) -> None:
    base = f"http://127.0.0.1:{ports.gateway}"
    rng = random.Random(12)
    started = time.monotonic()
    warm_up(ports)
    run.step("warm_up", started)
    started = time.monotonic()
    first = list(turns(base, "compose-1", SITUATIONS[1], rng))
    run.step("self_check", started)
    run.checks["self_check_turns"] = len(first)

    # A second resident: the description, then the replica that answered it is stopped.
    started = time.monotonic()
    before = replica_turns(base)
    second = turns(base, "compose-2", SITUATIONS[0], rng)
    sent = [next(second)]
    after = replica_turns(base)
    served = next((i for i, (a, b) in enumerate(zip(before, after)) if b > a), 0)
    victim = ("rasa-1", "rasa-2")[served]
    sh(compose + ["stop", "--timeout", "5", victim], run.log, env)
    sent += list(second)  # answered on the other replica, until the verdict
    run.step("check_with_a_replica_stopped", started)
    survivor_port = ports.rasa_2 if victim == "rasa-1" else ports.rasa
    stored = stored_user_texts(f"http://127.0.0.1:{survivor_port}", env["RASA_AUTH_TOKEN"], "compose-2")
    expected = [sent_to_rasa(message) for message, _ in sent]  # Rasa gets the button's command
    run.checks.update({
        "stopped": victim, "turns_after_stop": len(sent) - 1,
        "stored_user_turns": len(stored), "sent_user_turns": len(expected),
        "replicas_after": http_json("GET", f"{base}/healthz", timeout=5).get("replicas"),
    })
    if len(sent) < 2:
        raise Failed("the check ended before a replica was stopped: nothing was tested")
    if stored != expected:
        raise Failed(f"the surviving replica's tracker has {stored}, sent {expected}")


def build_images(run: Run, images: Dict[str, str]) -> None:
    env = dict(os.environ, DOCKER_BUILDKIT="0")  # the builder Debian's docker.io has; same steps either way
    common = ["docker", "build", "--network", "host", "-f", "docker/Dockerfile"]
    started = time.monotonic()
    sh(common + ["--target", "rasa", "--build-arg", f"BASE_IMAGE={images['base']}",
                 "-t", images["rasa"], "."], run.log, env)
    run.step("build_rasa_image", started)
    started = time.monotonic()
    sh(common + ["--target", "gateway", "--build-arg", f"BASE_IMAGE={images['base']}",
                 "--build-arg", f"GATEWAY_BASE_IMAGE={images['gateway_base']}",
                 "-t", images["gateway"], "."], run.log, env)
    run.step("build_gateway_image", started)


def compose_test(args: argparse.Namespace, run: Run) -> None:
    if not (ROOT / "models" / "current.tar.gz").exists():
        raise Failed("no trained model in models/ (make train)")
    ports = Ports.from_base(args.port)
    if ports.busy():
        raise Failed(f"ports in use: {ports.busy()} (set COMPOSE_TEST_PORT to a free range)")
    images = {"base": args.base_image, "gateway_base": args.gateway_base_image,
              "rasa": f"fanzha-rasa:{args.tag}", "gateway": f"fanzha-gateway:{args.tag}"}
    started = time.monotonic()
    for image in {images["base"], images["gateway_base"]}:
        if image in LOCAL_BASES and subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
            python_home = Path(subprocess.check_output(["scripts/find-python.sh", LOCAL_BASES[image]], text=True).strip())
            sh(["scripts/docker-base.sh", image], run.log,
               dict(os.environ, PYTHON_HOME=str(python_home.resolve().parents[1])))
    run.step("base_image", started)
    build_images(run, images)

    compose = compose_command() + [arg for f in COMPOSE_FILES for arg in ("-f", f)]
    with tempfile.TemporaryDirectory(prefix="compose-test-") as tmp:
        env = compose_env(ports, images, Path(tmp))
        config = subprocess.run(compose + ["config"], cwd=ROOT, env=env, capture_output=True, text=True)
        if config.returncode:
            raise Failed(f"compose config: {config.stderr.strip()}")
        merged = Path(tmp) / "compose.yml"
        merged.write_text(host_network_only(config.stdout), encoding="utf-8")
        compose = compose[:-2 * len(COMPOSE_FILES)] + ["-f", str(merged)]
        try:
            started = time.monotonic()
            sh(compose + ["up", "-d", "--no-build"], run.log, env)
            wait_healthy(f"http://127.0.0.1:{ports.gateway}", HEALTHY_TIMEOUT_S)
            run.step("up_to_healthy", started)
            networks = subprocess.run(["docker", "network", "ls", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}"],
                                      capture_output=True, text=True).stdout.split()
            run.checks["networks_created"] = len(networks)
            if networks:
                raise Failed(f"compose created networks: {networks}")
            scenario(run, compose, env, ports)
        finally:
            sh(compose + ["logs", "--no-color", "--tail", "40"], run.log, env, check=False)
            started = time.monotonic()
            sh(compose + ["down", "--volumes", "--remove-orphans", "--timeout", "10"], run.log, env, check=False)
            run.step("down", started)


def _stop_on_signal(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)  # the finally blocks tear down


def main(argv: Optional[Sequence[str]] = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=settings.compose_test_port,
                        help="base port: gateway, Rasa +1 and +3, actions +10, Redis +20")
    parser.add_argument("--base-image", default=settings.base_image)
    parser.add_argument("--gateway-base-image", default=settings.gateway_base_image)
    parser.add_argument("--tag", default="compose-test")
    args = parser.parse_args(argv)
    REPORTS.mkdir(exist_ok=True)
    run = Run(log=REPORTS / "compose-test.log")
    run.log.write_text("", encoding="utf-8")
    signal.signal(signal.SIGTERM, _stop_on_signal)
    started = time.monotonic()
    dockerd = None
    error = ""
    try:
        dockerd = start_dockerd(run.log)
        compose_test(args, run)
    except (Failed, KeyboardInterrupt, subprocess.TimeoutExpired) as err:
        error = f"{type(err).__name__}: {err}"
    finally:
        if dockerd is not None:  # only the engine this run started
            os.killpg(dockerd.pid, signal.SIGTERM)
            dockerd.wait(timeout=30)
    run.timings_s["total"] = round(time.monotonic() - started, 1)
    report = {"ok": not error, "error": error, "timings_s": run.timings_s, "checks": run.checks,
              "base_image": args.base_image, "gateway_base_image": args.gateway_base_image, "command": "make compose-test"}
    (REPORTS / "compose-test.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if error:
        print(f"[compose-test] FAILED: {error} (log: {run.log})", file=sys.stderr)
    return 0 if not error else 1


if __name__ == "__main__":
    sys.exit(main())
