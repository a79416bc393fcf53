"""The shape of the code: no import circles in proxycmd or sshconfig, proxycmd never imports sshconfig,
on-demand logic never imports a backend, no product module over 450 lines nor function over 80 (the
exceptions listed, each with why), and the tests in their tiers.  Read from the source with ast, so an import inside a function
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


# ----- the size of things ----------------------------------------------------------------------------------
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80
MAX_TOP_TEST_MODULES = 12
# The exceptions, each with why; an entry whose module or function has shrunk fails the test, so the list
# only ever gets shorter.
LONG_MODULES: Dict[str, str] = {}
LONG_FUNCTIONS: Dict[str, str] = {}


def _product_files(root: Path = ROOT) -> List[Path]:
    return sorted(p for top in ("proxycmd", "sshconfig") for p in (root / top).rglob("*.py"))


def _long_functions(path: Path, limit: int, root: Path = ROOT) -> Dict[str, int]:
    """{"file.py:Class.function": lines} for each function (methods and nested ones too) over *limit* lines,
    from its `def` line to its last."""
    found: Dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef) and child.end_lineno - child.lineno + 1 > limit:
                    found[f"{path.relative_to(root)}:{name}"] = child.end_lineno - child.lineno + 1
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(), str(path)), "")
    return found


def test_no_product_module_over_450_lines():
    lines = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in _product_files()}
    assert len(lines) > 50
    over = {name: n for name, n in lines.items() if n > MAX_MODULE_LINES}
    assert {name: n for name, n in over.items() if name not in LONG_MODULES} == {}
    assert sorted(set(LONG_MODULES) - set(over)) == [], "an allowed module is short now: drop it from LONG_MODULES"


def test_no_function_over_80_lines():
    over: Dict[str, int] = {}
    for path in _product_files():
        over.update(_long_functions(path, MAX_FUNCTION_LINES))
    assert {name: n for name, n in over.items() if name not in LONG_FUNCTIONS} == {}
    assert sorted(set(LONG_FUNCTIONS) - set(over)) == [], "an allowed function is short now: drop it"


def test_the_length_check_sees_a_long_method(tmp_path):
    body = "".join(f"        x{i} = {i}\n" for i in range(80))
    (tmp_path / "m.py").write_text(f"class A:\n    def long(self):\n{body}\n    def short(self):\n        pass\n")
    assert _long_functions(tmp_path / "m.py", MAX_FUNCTION_LINES, tmp_path) == {"m.py:A.long": 81}


def test_tests_sit_in_tiers_with_one_basename_each():
    tests = ROOT / "tests"
    top = sorted(p.name for p in tests.glob("test_*.py"))
    assert len(top) <= MAX_TOP_TEST_MODULES, f"{len(top)} test modules at the top of tests/: put them in a tier"
    modules = [p for tier in ("unit", "sim", "real") for p in (tests / tier).glob("test_*.py")]
    assert len(modules) > 30
    names = [p.name for p in modules] + top
    # pytest imports each test module by its basename (no __init__.py): two of one name cannot both load
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


def test_a_command_imports_no_other_command():
    """condor-job-ssh's verbs (sshconfig/commands/) share only params.py; what two verbs need lives outside."""
    graph = _graph("sshconfig")
    verbs = [m for m in graph if m.startswith("sshconfig.commands.") and m != "sshconfig.commands.params"]
    assert len(verbs) >= 8
    for verb in verbs:
        assert [m for m in graph[verb] if m.startswith("sshconfig.commands.") and m != "sshconfig.commands.params"] \
            == [], verb
