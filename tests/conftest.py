import shutil
from pathlib import Path

import pytest

from bot.kb import KnowledgeBase, load_kb

FIXTURES = Path(__file__).parent / "fixtures"


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


@pytest.fixture(autouse=True)
def _local_state_in_tmp(tmp_path_factory, monkeypatch) -> None:
    """Every gateway a test creates keeps its cases and statistics in a temp folder, not var/."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("CASES_URL", f"sqlite:///{state}/cases.db")
    monkeypatch.setenv("STATS_DB", str(state / "stats.db"))
