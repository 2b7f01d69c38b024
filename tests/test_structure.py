"""The shape of the code (issue 14), read from the source with `ast`:

- no import circle among the project's modules (bot/ and actions/);
- bot/kb is a leaf: it imports no other bot package, no Rasa, no web server;
- settings are read in one place: no module but bot/settings.py reads a variable of the
  environment (handing the whole environment to a child process is not reading it);
- the core imports without spaCy and scikit-learn (issue 17's gateway has neither).

Imports inside `if TYPE_CHECKING:` only exist for the type checker and are not edges.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "actions")
LEAF = "bot.kb"
FORBIDDEN_IN_LEAF = ("rasa", "rasa_sdk", "aiohttp", "aiohttp_jinja2", "aiohttp_session", "sanic", "wechatpy")
SETTINGS_MODULE = "bot.settings"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> Dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk_runtime(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imports_of(name: str, path: Path, modules: Dict[str, Path]) -> List[Tuple[str, int]]:
    """(imported module, line) for every import the module runs, resolved to a module or package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in _walk_runtime(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((candidate if candidate in modules else base, node.lineno))
    return found


def import_graph() -> Dict[str, Set[str]]:
    modules = project_modules()
    graph: Dict[str, Set[str]] = {}
    for name, path in modules.items():
        graph[name] = {target for target, _ in imports_of(name, path, modules) if target in modules and target != name}
    return graph


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components of more than one module (Tarjan), as an import path."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    on_stack: Set[str] = set()
    stack: List[str] = []
    found: List[List[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_among_the_projects_modules():
    circles = cycles(import_graph())
    assert circles == [], "import circles: " + "; ".join(" ↔ ".join(c) for c in circles)


def test_the_core_imports_no_other_bot_package_no_rasa_and_no_web_server():
    modules = project_modules()
    offending = []
    for name, path in modules.items():
        if name != LEAF and not name.startswith(LEAF + "."):
            continue
        for target, line in imports_of(name, path, modules):
            top = target.split(".")[0]
            reaches_up = top == "bot" and target != LEAF and not target.startswith(LEAF + ".")
            if reaches_up or top in FORBIDDEN_IN_LEAF:
                offending.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert offending == [], "\n".join(offending)


def _reads_environment(node: ast.AST) -> bool:
    """os.environ.get(…), os.environ[…], os.getenv(…), "X" in os.environ."""
    def is_environ(n: ast.AST) -> bool:
        return isinstance(n, ast.Attribute) and n.attr == "environ" and isinstance(n.value, ast.Name) and n.value.id == "os"

    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "get" and is_environ(node.func.value):
            return True
        if node.func.attr == "getenv" and isinstance(node.func.value, ast.Name) and node.func.value.id == "os":
            return True
    if isinstance(node, ast.Subscript) and is_environ(node.value) and isinstance(node.ctx, ast.Load):
        return True
    return isinstance(node, ast.Compare) and any(is_environ(c) for c in node.comparators)


def test_settings_are_read_from_the_environment_only_in_bot_settings():
    offending = []
    for name, path in project_modules().items():
        if name == SETTINGS_MODULE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        offending += [f"{path.relative_to(ROOT)}:{n.lineno}" for n in ast.walk(tree) if _reads_environment(n)]
    assert offending == [], "environment read outside bot/settings.py: " + ", ".join(offending)


def test_the_core_assesses_without_spacy_and_scikit_learn():
    script = """
import sys
sys.modules["spacy"] = None  # import spacy -> ImportError
sys.modules["sklearn"] = None
from bot.kb import assess, load_kb
verdict = assess(load_kb(), "对方自称北京市公安局，用17012345678打来，让我下载向日葵，转五万到安全账户")
kinds = sorted({i.kind for i in verdict.indicators})
flags = sorted(h.id for h in verdict.red_flags)
print(verdict.risk_level, ",".join(kinds), ",".join(flags))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    risk, kinds, flags = result.stdout.split()
    assert risk == "high"
    assert {"phone", "app", "amount", "organization"} <= set(kinds.split(","))
    assert {"safe_account", "screen_sharing", "ind_unofficial_number", "ind_virtual_number"} <= set(flags.split(","))


def test_the_circle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Modules only Rasa's environment has (issue 17): a test file importing one runs there.
RASA_SIDE = ("rasa", "rasa_sdk", "actions", "spacy", "sklearn", "bot.nlu", "bot.privacy.tracker_store",
             "bot.quality.evaluation", "bot.quality.dev_set", "bot.quality.tuning", "bot.quality.scoring")


def test_each_test_file_runs_in_an_environment_that_has_what_it_imports():
    from tests.conftest import BOTH, RASA_ONLY

    files = {p.stem: p for p in (ROOT / "tests").glob("test_*.py")}
    assert (RASA_ONLY | BOTH) <= set(files), "tests/conftest.py names a test file that does not exist"
    assert not RASA_ONLY & BOTH
    misplaced = []
    for stem, path in sorted(files.items()):
        needs_rasa = sorted({
            target for target, _ in imports_of(f"tests.{stem}", path, {})
            if any(target == m or target.startswith(m + ".") for m in RASA_SIDE)
        })
        if needs_rasa and stem not in RASA_ONLY:
            misplaced.append(f"{stem} imports {', '.join(needs_rasa)}: add it to RASA_ONLY")
    assert misplaced == [], "; ".join(misplaced)


def test_this_environment_runs_its_share_of_the_test_files():
    from tests.conftest import BOTH, IN_RASA_ENV, RASA_ONLY, runs_here

    assert all(runs_here(stem) for stem in BOTH)
    assert all(runs_here(stem) == IN_RASA_ENV for stem in RASA_ONLY)
    assert runs_here("test_gateway_api") is not IN_RASA_ENV
    if not IN_RASA_ENV:  # the gateway's environment is the supported runtime of issue 17
        import aiohttp

        assert sys.version_info >= (3, 12)
        assert tuple(int(part) for part in aiohttp.__version__.split(".")[:2]) >= (3, 13)


def test_the_stack_starts_the_gateway_on_its_own_supported_runtime():
    from bot.runtime import stack
    from bot.settings import Settings

    settings = Settings.from_env({"RASA_AUTH_TOKEN": "t"})
    commands = stack.commands(settings)
    assert commands["gateway"][:3] == [str(settings.gateway_python), "-m", "bot.gateway"]
    assert commands["actions"][0] == commands["rasa"][0] == str(settings.rasa_bin("rasa"))
    runtime = stack.gateway_runtime(settings)
    assert runtime, f"{settings.gateway_python} does not run"
    assert tuple(int(part) for part in runtime["python"].split(".")[:2]) >= (3, 12)
    assert tuple(int(part) for part in runtime["aiohttp"].split(".")[:2]) >= (3, 13)
    assert stack.missing_runtimes(settings) == []
    assert stack.missing_runtimes(Settings.from_env({"GATEWAY_VENV": "/nonexistent"})) == [
        "the gateway's environment is missing (/nonexistent/bin/python)"]
