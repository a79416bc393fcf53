"""The shape of the code: no import circles in proxycmd or sshconfig, proxycmd never imports sshconfig, and
on-demand logic never imports a backend.  Read from the source with ast, so an import inside a function
counts as much as one at the top (only those under `if TYPE_CHECKING:`, which never run, are left out)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(path: Path, known: Set[str], root: Path = ROOT) -> Set[str]:
    """The modules of *known* that *path* imports (a `from package import module` names the module)."""
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: Set[str] = set()

    def resolve(level: int, module: str) -> str:
        if not level:
            return module
        base = package.split(".")
        base = base[:len(base) - (level - 1)]
        return ".".join(base + ([module] if module else []))

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking_only(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                target = resolve(child.level, child.module or "")
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    out = set()
    for target in found:
        # importing a.b.c runs a and a.b too; a name that is not a module (a function) is dropped
        parts = target.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in known)
    out.discard(name)
    return out


def _graph(top: str, root: Path = ROOT) -> Dict[str, Set[str]]:
    paths = sorted((root / top).rglob("*.py"))
    known = {_module_name(p, root) for p in paths}
    # a package's __init__ importing its own submodule (lazily, in open_backend) is how it hands one out;
    # the circle check is about modules reaching back up, so parents are not counted as imports of children
    graph = {}
    for path in paths:
        name = _module_name(path, root)
        graph[name] = {m for m in _imports(path, known, root) if not name.startswith(m + ".")}
    return graph


def _circles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Every strongly connected set of more than one module (Tarjan), each sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    out: List[List[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


@pytest.mark.parametrize("top", ["proxycmd", "sshconfig"])
def test_no_import_circles(top):
    graph = _graph(top)
    assert len(graph) > 10 and f"{top}.cli" in graph
    assert _circles(graph) == []


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_a_circle_through_a_function_level_import_is_seen(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "one.py").write_text("from . import two\n")
    (pkg / "two.py").write_text("def f():\n    from .one import g\n")
    (pkg / "three.py").write_text("TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from . import one\n")
    graph = _graph("pkg", tmp_path)
    assert graph["pkg.three"] == set()
    assert _circles(graph) == [["pkg.one", "pkg.two"]]


def test_proxycmd_never_imports_sshconfig():
    known = {_module_name(p) for p in ROOT.rglob("*.py") if ".venv" not in p.parts}
    paths = list((ROOT / "proxycmd").rglob("*.py"))
    assert len(paths) > 10
    for path in paths:
        assert not [m for m in _imports(path, known) if m.split(".")[0] == "sshconfig"], path


def test_ondemand_uses_the_backend_interface_only():
    graph = _graph("proxycmd")
    assert not [m for m in graph["proxycmd.ondemand"] if m.startswith("proxycmd.backends")]
    for module, imports in graph.items():
        if module.startswith("proxycmd.backends"):
            assert "proxycmd.ondemand" not in imports, module
