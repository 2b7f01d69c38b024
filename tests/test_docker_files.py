"""The production profile's docker files (no Docker engine runs here, so check what we can)."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yml").read_text(encoding="utf-8"))


def test_compose_runs_the_three_processes_with_redis_and_rasa_replicas():
    services = _compose()["services"]
    assert {"redis", "actions", "rasa", "gateway"} <= set(services)
    rasa = services["rasa"]
    assert rasa["deploy"]["replicas"] >= 2
    assert "endpoints.production.yml" in rasa["command"]
    assert services["gateway"]["environment"]["RASA_URL"] == "http://rasa:5005"


def test_every_file_and_module_the_images_use_exists():
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    for source in re.findall(r"^COPY (\S+)", dockerfile, flags=re.M):
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
    for path in [".venv", ".git", "var", "docker/.env", "docker/operators.yml"]:
        assert path in ignored
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "docker/.env" in gitignore and "docker/operators.yml" in gitignore
