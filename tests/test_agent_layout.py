"""The agent package's layout (SPEC AGT): grouped by responsibility, with no module importing
itself through others, nothing from the relay, and `agent/protocol.py` the one definition of
the wire that both sides import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import agent

# The agent has no Django: the relay's database and channel layer change nothing here.
pytestmark = pytest.mark.agent_alone

AGENT_DIR = Path(agent.__file__).resolve().parent
ROOT = AGENT_DIR.parent
RELAY_PACKAGES = {"django", "channels", "daphne", "rest_framework"}
RELAY_PACKAGES |= {"codexpanel", "accounts", "devices", "wallet", "setupflow"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module the file imports, typing-only imports included, as absolute names."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            # `from . import host` imports a module, `from .host import X` a name.
            found |= {f"{name}.{alias.name}" for alias in node.names}
    return found


def agent_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in AGENT_DIR.rglob("*.py")}
    return {
        name: {other for other in imports_of(path) if other in modules and other != name}
        for name, path in modules.items()
    }


def test_the_agent_is_grouped_into_setup_runtime_and_local_with_the_wire_at_the_top():
    groups = {p.name for p in AGENT_DIR.iterdir() if (p / "__init__.py").is_file()}
    assert groups == {"setup", "runtime", "local"}
    assert (AGENT_DIR / "protocol.py").is_file()
    assert [p.name for p in AGENT_DIR.rglob("protocol.py")] == ["protocol.py"]
    # Each file stays small enough to read (protocol.py is the declaration of every frame).
    long = [
        str(p.relative_to(ROOT))
        for p in AGENT_DIR.rglob("*.py")
        if p.name != "protocol.py" and len(p.read_text(encoding="utf-8").splitlines()) > 420
    ]
    assert long == []


def test_no_agent_module_imports_itself_through_others():
    graph = agent_graph()
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str], done: set[str]) -> None:
        for other in sorted(graph[name]):
            if other in path:
                cycles.append([*path[path.index(other) :], other])
            elif other not in done:
                visit(other, [*path, other], done)
        done.add(name)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name], done)
    assert cycles == []


def test_the_agent_imports_nothing_of_the_relay():
    used = {
        name.split(".")[0]: str(path.relative_to(ROOT))
        for path in AGENT_DIR.rglob("*.py")
        for name in imports_of(path)
    }
    assert {package: used[package] for package in RELAY_PACKAGES & set(used)} == {}
