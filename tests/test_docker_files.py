"""The production profile's docker files, checked without an engine (`make compose-test` runs them)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yml").read_text(encoding="utf-8"))


def _compose_test() -> dict:
    return yaml.safe_load((DOCKER / "compose.test.yml").read_text(encoding="utf-8"))


def test_compose_runs_the_three_processes_with_redis_and_two_rasa_replicas():
    services = _compose()["services"]
    assert {"redis", "actions", "rasa-1", "rasa-2", "gateway"} <= set(services)
    for name in ("rasa-1", "rasa-2"):
        assert "endpoints.production.yml" in services[name]["command"]
    # The gateway spreads turns over both replicas itself (and retries on the other one).
    urls = services["gateway"]["environment"]["RASA_URLS"].split(",")
    assert [u.split("//")[1].split(":")[0] for u in urls] == ["rasa-1", "rasa-2"]


def test_the_two_replicas_listen_on_different_ports_so_host_networking_works():
    services = _compose()["services"]
    ports = {services[n]["command"][services[n]["command"].index("--port") + 1] for n in ("rasa-1", "rasa-2")}
    assert len(ports) == 2


def test_the_test_override_puts_every_service_on_the_host_network():
    # compose creates no network at all when every service has a network_mode (no bridge here).
    base, override = _compose()["services"], _compose_test()["services"]
    assert set(override) == set(base)
    assert all(service.get("network_mode") == "host" for service in override.values())
    assert "networks" not in _compose() and "networks" not in _compose_test()


def test_each_image_has_its_own_base_and_requirements_with_deployment_defaults():
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG BASE_IMAGE=python:3.10-slim-bookworm" in dockerfile
    assert "ARG GATEWAY_BASE_IMAGE=python:3.12-slim-bookworm" in dockerfile
    assert re.search(r"^FROM \$\{BASE_IMAGE\} AS rasa-deps$", dockerfile, flags=re.M)
    assert re.search(r"^FROM \$\{GATEWAY_BASE_IMAGE\} AS gateway$", dockerfile, flags=re.M)
    rasa_stage, gateway_stage = dockerfile.split("AS gateway", 1)
    assert "pip install -r requirements.txt" in rasa_stage
    assert "pip install -r requirements-gateway.txt" in gateway_stage
    assert "requirements.txt" not in gateway_stage.replace("requirements-gateway.txt", "")
    steps = [line for line in gateway_stage.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in steps if "RASA_" in line or "spacy" in line.lower() or "models/" in line]
    compose_args = _compose()["x-build-args"]
    assert compose_args["GATEWAY_BASE_IMAGE"].endswith(":-python:3.12-slim-bookworm}")


def test_the_trained_model_is_in_the_build_context():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert "models/*" in ignored and "!models/current.tar.gz" in ignored


def test_every_file_and_module_the_images_use_exists():
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    for source in re.findall(r"^COPY (\S+)", dockerfile, flags=re.M):
        if source.startswith("--from="):
            continue  # another stage's files
        assert source == "." or (ROOT / source).exists(), source
    for module in re.findall(r"python -m ([\w.]+)", dockerfile):
        assert (ROOT / (module.replace(".", "/") + ".py")).exists() or (ROOT / module.replace(".", "/")).is_dir()
    for service in _compose()["services"].values():
        command = service.get("command", [])
        for arg in command:
            if arg.endswith((".yml", ".tar.gz")) and not arg.startswith("models/"):
                assert (ROOT / arg).exists(), arg


def test_required_secrets_are_documented_in_the_example_env():
    compose_text = (DOCKER / "compose.yml").read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{(\w+):\?", compose_text))
    example = (DOCKER / "env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^(\w+)=", example, flags=re.M))
    assert required and required <= documented


def test_secrets_and_local_state_stay_out_of_the_image_and_the_repository():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for path in [".venv", ".venv-*", ".git", "var", "docker/.env", "docker/operators.yml"]:
        assert path in ignored
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "docker/.env" in gitignore and "docker/operators.yml" in gitignore


def test_compose_test_refuses_to_start_a_service_off_the_host_network():
    from bot.quality.compose_test import Failed, host_network_only

    merged = yaml.safe_load(host_network_only("services: {a: {network_mode: host, ports: ['80:80']}, b: {network_mode: host}}"))
    assert merged["services"]["a"] == {"network_mode": "host"}  # Docker refuses published ports there
    with pytest.raises(Failed, match="b"):
        host_network_only("services: {a: {network_mode: host}, b: {image: x}}")


def test_compose_test_ports_stay_in_their_range_and_never_collide():
    from bot.quality.compose_test import Ports

    ports = list(vars(Ports.from_base(7800)).values())
    assert len(set(ports)) == len(ports) and min(ports) == 7800 and max(ports) < 7830


def test_a_signed_answer_button_is_sent_back_as_offered():
    import random

    from bot.quality.selfcheck import next_answer, sent_to_rasa

    replies = [{"text": "对方有没有让您转账？", "buttons": [
        {"title": "是", "payload": "/affirm#1a2b"}, {"title": "不是", "payload": "/deny#3c4d"}]}]
    answer = next_answer(replies, random.Random(0))
    assert answer in {"/affirm#1a2b", "/deny#3c4d"} and sent_to_rasa(answer) in {"/affirm", "/deny"}
    assert next_answer([{"text": "好的"}], random.Random(0)) is None
