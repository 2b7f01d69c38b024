# 反诈自查助手 — the two commands are `make run` and `make test`.
SHELL := /bin/bash
# Two environments (issue 17, README "Two runtimes"): Rasa's (Python 3.10, Rasa's pins) runs
# Rasa, the action server, training and the quality tools; the gateway's (Python 3.12, current
# releases, requirements-gateway.txt) runs the gateway. The stack reads both from here.
VENV ?= .venv
GATEWAY_VENV ?= .venv-gateway
PY := $(VENV)/bin/python
GW_PY := $(GATEWAY_VENV)/bin/python
RASA := $(VENV)/bin/rasa
export RASA_VENV := $(abspath $(VENV))
export GATEWAY_VENV
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export TF_INTRA_OP_PARALLELISM_THREADS ?= 1
export TF_INTER_OP_PARALLELISM_THREADS ?= 1
export PYTHONPATH := $(CURDIR)
# Port defaults live in bot/settings.py (the one place); a value from the caller wins.
# Recursive (?=): asked when a recipe runs, so after `make install` made the venv.
export RASA_PORT ?= $(shell $(PY) -m bot.settings RASA_PORT 2>/dev/null)
export ACTIONS_PORT ?= $(shell $(PY) -m bot.settings ACTIONS_PORT 2>/dev/null)
export GATEWAY_PORT ?= $(shell $(PY) -m bot.settings GATEWAY_PORT 2>/dev/null)

MODEL := models/current.tar.gz
TRAINING_INPUTS := config.yml domain.yml $(shell find data bot/nlu bot/kb -path data/outreach -prune -o -path data/dev -prune -o -path data/dev2 -prune -o -path data/stages -prune -o -type f \( -name '*.yml' -o -name '*.py' \) -print 2>/dev/null)
BUILD_STAMP := build/.built
# The loss-stage model (bot/kb/stage.py) learnt from data/stages/ with the KB's stage signals.
# Its own target, not part of BUILD_STAMP: Rasa does not read it (the actions and the gateway
# do), so new stage examples retrain this file in seconds and never the Rasa model.
STAGE_MODEL := build/stage_model.json
STAGE_INPUTS := data/kb/stages.yml bot/kb/stage.py bot/kb/stage_train.py $(shell find data/stages -type f -name '*.yml' 2>/dev/null)

.PHONY: run install deps-check build train test test-unit test-stories validate lint eval eval-dev bench bench-push load chaos compose-test operator reload reload-model clean help
.DEFAULT_GOAL := help

help:
	@echo "make run    – set up if needed, train if stale, run actions + Rasa + gateway"
	@echo "make run PROFILE=prod – Redis + RASA_REPLICAS Rasa replicas (default 2) + actions + gateway"
	@echo "make load   – locust: USERS residents' whole self-checks + the saturation run (reports/load.json)"
	@echo "make chaos  – prod profile under load: kill a Rasa replica, restart Redis (reports/chaos.json)"
	@echo "make compose-test – build the images, run docker/compose.yml (host network), stop a Rasa container (reports/compose-test.json)"
	@echo "make test   – the whole test suite (make lint included)"
	@echo "make deps-check – both environments' direct dependencies: pinned vs the newest release"
	@echo "make lint   – ruff over bot/ and actions/, mypy over bot/kb and bot/vision"
	@echo "make eval   – score on ../shared/eval (reports/eval.json)"
	@echo "make eval-dev – the dev sets only: types, stages, styles, bank-CS (reports/eval.json)"
	@echo "make bench  – latency / throughput (reports/bench.json)"
	@echo "make bench-push – one alert to SUBSCRIBERS (1000) through a local WeChat API at RATE msg/s (reports/push_bench.json)"
	@echo "make operator LOGIN=wang NAME=王警官 – add a console account (asks for the password)"
	@echo "make reload – the running gateway and action server serve data/kb again (token: API_TOKENS)"
	@echo "make reload-model – after make train: the running Rasa replicas load the new model one at a time"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $$(scripts/find-python.sh) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.0"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	RASA_TELEMETRY_ENABLED=false $(RASA) telemetry disable >/dev/null 2>&1 || true
	touch $@

# The gateway's environment: its own Python (3.12), its own pins.
$(GATEWAY_VENV)/.installed: requirements-gateway.txt requirements-gateway-dev.txt
	@test -x $(GW_PY) || $$(scripts/find-python.sh 3.12) -m venv $(GATEWAY_VENV)
	$(GW_PY) -m pip install --quiet --upgrade "pip==24.0"
	$(GW_PY) -m pip install --quiet -r requirements-gateway-dev.txt
	touch $@

install: $(VENV)/.installed $(GATEWAY_VENV)/.installed

# Each direct dependency of both environments: its pin against the newest release on the
# package index (network: PyPI), and what holds it back (Rasa's own requirements).
deps-check: $(VENV)/.installed $(GATEWAY_VENV)/.installed
	$(PY) -m bot.quality.deps_check

# Generated NLU resources (jieba user dictionary, spaCy pipeline) from data/kb.
$(BUILD_STAMP): $(VENV)/.installed $(shell find data/kb bot/nlu bot/kb/extraction -type f -name '*.py' -o -type f -name '*.yml' 2>/dev/null)
	$(PY) -m bot.nlu.jieba_dict build/jieba
	$(PY) -m bot.kb.extraction.spacy_pipeline build/spacy_zh
	touch $@

$(STAGE_MODEL): $(VENV)/.installed $(STAGE_INPUTS)
	$(PY) -m bot.kb.stage_train $(STAGE_MODEL)

build: $(BUILD_STAMP) $(STAGE_MODEL)

$(MODEL): $(BUILD_STAMP) $(TRAINING_INPUTS)
	@mkdir -p models
	$(RASA) train --fixed-model-name current --out models
	@touch $@

train: $(MODEL)

validate: $(BUILD_STAMP)
	$(RASA) data validate --fail-on-warnings

run: $(MODEL) $(STAGE_MODEL) $(GATEWAY_VENV)/.installed
	$(PY) -m bot.runtime.stack

# pytest in both environments; tests/conftest.py says which runs which file.
test-unit: $(BUILD_STAMP) $(STAGE_MODEL) $(GATEWAY_VENV)/.installed
	@echo "== pytest in Rasa's environment ($$($(PY) -V))"
	$(PY) -m pytest -q tests
	@echo "== pytest in the gateway's environment ($$($(GW_PY) -V))"
	$(GW_PY) -m pytest -q tests

test-stories: $(MODEL)
	$(RASA) test --stories tests/stories --model $(MODEL) --out reports/rasa-test --fail-on-prediction-errors

# ruff (ruff.toml) over bot/ and actions/, mypy (mypy.ini) over the pure core bot/kb.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check bot actions
	$(VENV)/bin/mypy

test: $(MODEL) $(STAGE_MODEL) $(GATEWAY_VENV)/.installed
	$(MAKE) --no-print-directory lint
	$(RASA) data validate --fail-on-warnings
	$(MAKE) --no-print-directory test-unit
	@if ls tests/stories/*.yml >/dev/null 2>&1; then $(MAKE) --no-print-directory test-stories; fi

eval: $(MODEL) $(STAGE_MODEL)
	$(PY) -m bot.quality.evaluation

# The held-out dev sets alone (data/dev, data/dev2): never reads ../shared/eval.
eval-dev: $(MODEL) $(STAGE_MODEL)
	$(PY) -m bot.quality.evaluation --dev-only

# No Rasa needed: the gateway, its alert store and a local WeChat API server in one process.
SUBSCRIBERS ?= 1000
RATE ?= 25
bench-push: $(VENV)/.installed
	$(PY) -m bot.quality.push_bench --subscribers $(SUBSCRIBERS) --rate $(RATE) --target-s 60

bench: $(MODEL) $(STAGE_MODEL)
	$(PY) -m bot.quality.benchmark

# `make load`: locust lives in its own venv (requirements-load.txt) so its pins never touch Rasa's.
LOAD_VENV := .venv-load
USERS ?= 50
SPAWN_RATE ?= 10
DURATION ?= 60
RUNS ?= 1
STEPS ?= 1,2,4,8,16,32
STEP_DURATION ?= 20
$(LOAD_VENV)/.installed: requirements-load.txt
	@test -x $(LOAD_VENV)/bin/python || $$(scripts/find-python.sh) -m venv $(LOAD_VENV)
	$(LOAD_VENV)/bin/python -m pip install --quiet -r requirements-load.txt
	touch $@

load: $(MODEL) $(LOAD_VENV)/.installed
	$(PY) -m bot.quality.load --users $(USERS) --spawn-rate $(SPAWN_RATE) --duration $(DURATION) \
	  --runs $(RUNS) --steps "$(STEPS)" --step-duration $(STEP_DURATION)

# Faults under load (a Rasa replica killed, Redis restarted); fails when a target is missed.
chaos: $(MODEL)
	$(PY) -m bot.quality.chaos

# docker/compose.yml for real: images built (local Debian base: scripts/docker-base.sh, or
# BASE_IMAGE=python:3.10-slim-bookworm where a registry answers), host networking, a
# self-check through the gateway, one Rasa container stopped mid-check, always torn down.
# Ports: COMPOSE_TEST_PORT (gateway) … +20 (Redis). Needs docker.io, debootstrap, docker-compose.
compose-test: $(MODEL) $(STAGE_MODEL)
	$(PY) -m bot.quality.compose_test

operator: $(VENV)/.installed
	@test -n "$(LOGIN)" || { echo "usage: make operator LOGIN=<login> [NAME=<shown name>] [ROLES=operator,outreach]"; exit 2; }
	$(PY) -m bot.gateway.auth add "$(LOGIN)" --name "$(NAME)" --roles "$(or $(ROLES),operator,outreach)"

# The running stack serves the edited data/kb without a restart (a broken KB is refused).
reload:
	$(PY) -m bot.runtime.reload

# After `make train` (the old model serves meanwhile): Rasa's PUT /model on each replica in turn,
# drained first, so no turn fails (POST /api/v1/model/reload; token: API_TOKENS).
reload-model:
	$(PY) -m bot.runtime.reload --model $(or $(MODEL_FILE),current.tar.gz)

clean:
	rm -rf build models reports .pytest_cache
