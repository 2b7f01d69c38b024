import importlib.util
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from bot.kb import KnowledgeBase, load_kb

FIXTURES = Path(__file__).parent / "fixtures"

# -- which environment runs which test file (issue 17) ---------------------------------------
# `make test` runs pytest twice: in Rasa's environment (.venv, Python 3.10, Rasa's pins) and in
# the gateway's (.venv-gateway, Python 3.12, current releases). Rasa's runs the files that need
# Rasa, rasa-sdk, the actions, spaCy or scikit-learn in the test process, and the core's; the
# gateway's runs every other file, and the core's. tests/test_structure.py checks the lists.
RASA_ONLY = frozenset({
    "test_action_validation", "test_actions", "test_actions_alerts", "test_actions_outreach",
    "test_actions_replay", "test_chat_e2e", "test_classifier_threshold", "test_description_intent",
    "test_dev_set", "test_indicators", "test_intent_sampler", "test_kb_reload", "test_payloads",
    "test_privacy", "test_training_data",
})
# bot.kb's own tests: the core must load the KB and judge alike under both Pythons.
BOTH = frozenset({"test_kb_loader", "test_kb_data", "test_verdict", "test_properties", "test_stage", "test_structure"})
IN_RASA_ENV = importlib.util.find_spec("rasa") is not None


def runs_here(test_module: str) -> bool:
    """Whether this environment runs the test file `test_module` (a name without .py)."""
    if test_module in BOTH:
        return True
    return (test_module in RASA_ONLY) == IN_RASA_ENV


def pytest_ignore_collect(collection_path: Path, config: pytest.Config):
    # A file named on the command line is always collected (pytest asks only for the rest).
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        return None if runs_here(collection_path.stem) else True
    return None


def edit_yaml(path: Path, change: Callable[[Any], None]) -> None:
    """Load a YAML file, let `change` edit the data in place, write it back (to break it on purpose)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.fixture(scope="session")
def mini_kb() -> KnowledgeBase:
    """A tiny, stable KB: verdict mechanics are tested against it, not against the content."""
    return load_kb(FIXTURES / "kb_min")


@pytest.fixture(scope="session")
def real_kb() -> KnowledgeBase:
    return load_kb()


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """A writable copy of the mini KB, for breaking it on purpose."""
    target = tmp_path / "kb"
    shutil.copytree(FIXTURES / "kb_min", target)
    return target


@pytest.fixture(scope="session", autouse=True)
def _local_state_in_tmp(tmp_path_factory):
    """Every gateway a test creates keeps its cases and statistics in a temp folder, not var/.

    Session-scoped, so it is in place before module-scoped servers start.
    """
    state = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CASES_URL", f"sqlite:///{state}/cases.db")
        patch.setenv("STATS_DB", str(state / "stats.db"))
        patch.setenv("ALERTS_DB", str(state / "alerts.db"))
        patch.setenv("SHARE_DB", str(state / "shares.db"))
        yield


@pytest.fixture(scope="module")
def browser():
    """Debian's headless chromium (tests/live_gateway.py), one per test module."""
    from tests.live_gateway import launch_chromium

    with launch_chromium() as chromium:
        yield chromium
