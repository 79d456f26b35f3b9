"""The import graph of composer/ against the layer order written in README's Layout section.

Every module under composer/ is parsed with ``ast`` (imports inside functions and under TYPE_CHECKING
included, since a lazy import is still a dependency). A module belongs to the layer of its top-level
name under composer (``composer.training.lstm`` to ``training``; the package's own ``__init__`` to
``__init__``). The tests assert that every module has a layer, that no import points from a lower
layer to a higher one, and that the graph has no cycle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "composer"


def read_layers(readme: str) -> dict[str, int]:
    """Layer index (0 = lowest) of each name on the numbered lines of README's "## Layout" section.

    A line reads ``3. `midi_io`, `musicxml` — what the layer holds``: the backticked names before
    the dash are the layer's top-level modules and packages.
    """
    section = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    if section is None:
        raise ValueError("README.md has no '## Layout' section")
    lines = [m.group(1) for m in re.finditer(r"^\d+\.\s+(.*?)\s+—", section.group(1), re.M)]
    layers = {}
    for i, line in enumerate(lines):
        for name in re.findall(r"`([^`]+)`", line):
            if name in layers:
                raise ValueError(f"README Layout names {name!r} on two lines")
            layers[name] = i
    return layers


def module_names(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under ``package`` (a package is its __init__)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports_of(name: str, source: str, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that module ``name`` imports anywhere in ``source``.

    ``from a.b import c`` counts as importing a.b.c when that is a module, else a.b; an import of a
    name that is not itself a module counts as its nearest enclosing module.
    """
    is_package = name not in modules or any(m.startswith(name + ".") for m in modules)
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, one level up per extra dot
                parts = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_names(package)
    return {name: imports_of(name, path.read_text(), set(modules)) for name, path in modules.items()}


def layer_key(module: str) -> str:
    """The name a module is placed by in README: its first component under composer."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def wrong_way(graph: dict[str, set[str]], layers: dict[str, int]) -> list[str]:
    """Imports from a lower layer into a higher one, as 'importer -> imported' lines."""
    return sorted(
        f"{a} (layer {layers[layer_key(a)] + 1}) -> {b} (layer {layers[layer_key(b)] + 1})"
        for a, targets in graph.items()
        for b in targets
        if layers[layer_key(b)] > layers[layer_key(a)]
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


@pytest.fixture(scope="module")
def layers() -> dict[str, int]:
    return read_layers((ROOT / "README.md").read_text())


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_every_module_has_a_layer_in_the_readme(graph, layers):
    missing = sorted({layer_key(m) for m in graph} - set(layers))
    assert not missing, f"put these on a line of README's Layout section: {missing}"


def test_no_import_from_a_lower_layer_into_a_higher_one(graph, layers):
    assert wrong_way(graph, layers) == []


def test_no_import_cycle(graph):
    assert cycles(graph) == []


def test_the_graph_sees_lazy_relative_and_package_imports(tmp_path):
    """The parser on a tiny package: an import inside a function, a relative import, and
    ``from pkg import sub`` (the submodule, not the package) all count."""
    pkg = tmp_path / "composer"
    (pkg / "low").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "low" / "__init__.py").write_text("from composer.low import base\n")
    (pkg / "low" / "base.py").write_text("def f():\n    from composer import high\n")
    (pkg / "high.py").write_text("from .low import base\nimport composer.low.base as b\n")
    graph = import_graph(pkg)
    assert graph == {
        "composer": set(),
        "composer.low": {"composer.low.base"},
        "composer.low.base": {"composer.high"},
        "composer.high": {"composer.low.base"},
    }
    assert cycles(graph) == [["composer.high", "composer.low.base"]]
    layers = read_layers("## Layout\n\n1. `low`, `x` — below\n2. `high`, `__init__` — above\n")
    assert layers == {"low": 0, "x": 0, "high": 1, "__init__": 1}
    assert wrong_way(graph, layers) == ["composer.low.base (layer 1) -> composer.high (layer 2)"]
