"""The architecture as a test: imports only go down the layers, and no module imports itself
back through others (docs/architecture.md, "Layers").

The graph is built from the source with :mod:`ast`, so imports inside functions count as much as
those at the top of a module: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"caminos.engine": ROOT / "engine", "caminos.models": ROOT / "models"}

# Bottom to top; a module may import its own layer and those below it. The first prefix that
# matches a module names its layer.
LAYERS = (
    ("core", ("caminos.engine.core",)),
    ("dsp", ("caminos.engine.dsp",)),
    ("models", ("caminos.models",)),
    ("clock", ("caminos.engine.clock",)),
    ("control", ("caminos.engine.control",)),
    ("live", ("caminos.engine.live",)),
    ("cli", ("caminos.engine.cli", "caminos.engine.__main__")),
)


def modules() -> dict[str, Path]:
    """Every module of the two packages, by its installed name."""
    found = {}
    for name, folder in PACKAGES.items():
        for file in sorted(folder.rglob("*.py")):
            parts = list(file.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([name, *parts])] = file
    return found


def import_graph(found: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of the two packages it imports anywhere in its source."""

    def known(name: str) -> str | None:
        while name and name not in found:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, file in found.items():
        package = module if file.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                target = known(name)
                # A module importing its own package's __init__ is not an arrow.
                if target and target != module and not module.startswith(target + "."):
                    targets.add(target)
        graph[module] = targets
    return graph


def layer_of(module: str) -> int | None:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer():
    found = modules()
    assert len(found) > 60  # the walk found the packages
    bare = {"caminos.engine", "caminos.models"}
    assert [m for m in found if m not in bare and layer_of(m) is None] == []


def test_no_import_cycle():
    assert cycles(import_graph(modules())) == []


def test_imports_only_go_down():
    graph = import_graph(modules())
    upward = [
        f"{module} ({LAYERS[layer_of(module)][0]}) -> {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in sorted(graph.items())
        if layer_of(module) is not None
        for target in sorted(targets)
        if layer_of(target) is not None and layer_of(target) > layer_of(module)
    ]
    assert upward == []


def test_the_graph_sees_function_level_and_relative_imports(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "__init__.py").write_text("")
    (tmp_path / "a" / "x.py").write_text("def f():\n    from caminos.engine.a.y import g\n")
    (tmp_path / "a" / "y.py").write_text("from . import x\n")
    monkeypatch.setitem(PACKAGES, "caminos.engine", tmp_path)
    monkeypatch.delitem(PACKAGES, "caminos.models")
    graph = import_graph(modules())
    assert graph["caminos.engine.a.x"] == {"caminos.engine.a.y"}
    assert graph["caminos.engine.a.y"] == {"caminos.engine.a.x"}
    assert cycles(graph) == [["caminos.engine.a.x", "caminos.engine.a.y"]]


def test_every_import_names_the_caminos_namespace():
    """``engine`` and ``models`` are folders, not packages: an import of ``engine.x`` would only
    work where the checkout happens to be on sys.path, and never from an install."""
    bare = []
    for folder in ("engine", "models", "tests", "benchmarks", "patches"):
        for file in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text(), str(file))):
                names = (
                    [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom) and not node.level
                    else []
                )
                bare += [
                    f"{file.relative_to(ROOT)}:{node.lineno}: {name}"
                    for name in names
                    if name.split(".")[0] in ("engine", "models")
                ]
    assert bare == []


def test_pyproject_lists_every_package():
    """Packages are listed by hand (the namespace mapping needs it); a new folder must be too."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    folders = {name for name, file in modules().items() if file.name == "__init__.py"}
    assert folders <= listed
