import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from bot.kb import KnowledgeBase, load_kb

FIXTURES = Path(__file__).parent / "fixtures"


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
