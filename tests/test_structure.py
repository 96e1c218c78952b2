"""The package's shape: imports go down the layers and never round in a cycle (function-local
imports included), and no module is over MAX_LINES lines without the reason stated at its top.

Imports made by name count as imports: ``importlib.import_module("seqnas.x")`` / ``__import__`` with a
literal name, a ``"seqnas.x:attr"`` registry reference anywhere in a module (the model families' lazy
builders, entry points), and a package's lazy public names (``lazy_names(__name__, {"name": "submodule"}, ...)``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "seqnas"
MAX_LINES = 350
REASON = "Longer than 350 lines:"  # what a long module's docstring says, followed by why


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


# "module:attribute", as the family registry and entry points write a lazy reference.
REFERENCE = re.compile(r"(seqnas(?:\.\w+)*):\w+(?:\.\w+)*")


def _module_of(dotted: str, known: set[str]) -> str | None:
    """The longest known module ``dotted`` names (``seqnas.x.y`` where y is an attribute: ``seqnas.x``)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in known:
            return ".".join(parts[:i])
    return None


def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _dict_values(node: ast.AST | None) -> list[str]:
    """The string values of a dict display (``**{k: "v" for ...}`` entries included)."""
    out: list[str] = []
    if isinstance(node, ast.Dict):
        for v in node.values:
            out += _dict_values(v) if isinstance(v, (ast.Dict, ast.DictComp)) else [v.value] if (
                isinstance(v, ast.Constant) and isinstance(v.value, str)) else []
    elif isinstance(node, ast.DictComp) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
        out.append(node.value.value)
    return out


def by_name(name: str, tree: ast.AST, known: set[str]) -> set[str]:
    """The seqnas modules a module imports by name: import_module / __import__ of a literal, "module:attr"
    references, and the submodules behind a package's lazy names (``lazy_names(__name__, where, ...)``)."""
    assigned = {t.id: node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and (m := REFERENCE.fullmatch(node.value)):
            out.add(m.group(1))
        elif isinstance(node, ast.Call) and node.args:
            first = node.args[0]
            if _call_name(node) in ("import_module", "__import__") and isinstance(first, ast.Constant) \
                    and isinstance(first.value, str):
                out.add(first.value)
            elif _call_name(node) == "lazy_names" and len(node.args) > 1 and isinstance(first, ast.Name) \
                    and first.id == "__name__":
                where = node.args[1]
                where = assigned.get(where.id) if isinstance(where, ast.Name) else where
                out.update(f"{name}.{v}" for v in _dict_values(where))
    return {m for x in out if (m := _module_of(x, known)) is not None}


def imports_of(name: str, path: Path, known: set[str], names: bool = True) -> set[str]:
    """Every seqnas module ``path`` imports anywhere in its body (top level, functions, TYPE_CHECKING), by an
    import statement or (``names``) by name (``by_name``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from pkg import module` depends on the module, else on pkg
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    if names:
        out |= by_name(name, tree, known)
    return {m for m in out if m in known and m != name}


def graph(names: bool = True) -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods), names) for name, path in mods.items()}


# Edges that exist by name only and that the design places so (docs/DESIGN.md, "Layers": ``families`` sits at
# layer 0 so that spaces know the family names without torch, and registers the built-in families by lazy
# "module:attr" references, imported on first use): the layer and cycle checks leave these out. Each must still
# be an edge by name and none an import statement (test_the_edges_allowed_by_name_are_in_step).
ALLOWED_BY_NAME = {
    ("seqnas.families", f"seqnas.{m}")
    for m in ("models.rnn_macro", "models.macro_supernet", "space.rnn_macro",
              "models.rnn_cell", "models.cell_supernet", "space.rnn_cell")
}


def checked_graph() -> dict[str, set[str]]:
    """The import graph the layer and cycle checks judge: package re-exports and the allowed by-name edges out."""
    return {a: {b for b in bs if not is_package_init_edge(a, b) and (a, b) not in ALLOWED_BY_NAME}
            for a, bs in graph().items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def is_package_init_edge(a: str, b: str) -> bool:
    """A package's __init__ re-exporting its own submodules is not a cycle with them: importing
    ``pkg.sub`` runs ``pkg/__init__`` first by Python's rules, whatever the code says."""
    return b.startswith(a + ".")


def test_no_import_cycle_in_seqnas() -> None:
    assert cycles(checked_graph()) == []


def test_the_edges_allowed_by_name_are_in_step() -> None:
    g, statements = graph(), graph(names=False)
    assert sorted((a, b) for a, b in ALLOWED_BY_NAME if b not in g[a]) == [], "allowed, but no longer there: remove"
    assert sorted((a, b) for a, b in ALLOWED_BY_NAME if b in statements[a]) == [], "an import statement, not a name"


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(g) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_relative_and_function_local_imports_are_seen(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from seqnas.trial import Result\n    import seqnas.checks\n")
    assert imports_of("seqnas.x", src, {"seqnas.trial", "seqnas.checks", "seqnas.x"}) == {"seqnas.trial", "seqnas.checks"}


def test_imports_by_name_are_seen(tmp_path: Path) -> None:
    known = {"seqnas", "seqnas.a", "seqnas.b", "seqnas.c", "seqnas.d", "seqnas.e", "seqnas.f", "seqnas.pkg", "seqnas.pkg.sub",
             "seqnas.pkg.other", "seqnas.x"}
    src = tmp_path / "m.py"
    src.write_text(
        '"""Docs may quote "seqnas.f:thing" in prose: not an import."""\n'
        "import importlib\n"
        "from importlib import import_module\n"
        "GROUP = 'seqnas.e'  # a plain dotted string (an entry-point group) is no import\n"
        "def f():\n"
        "    importlib.import_module('seqnas.a')\n"
        "    import_module('seqnas.b.attr_not_module')\n"
        "    return __import__('seqnas.c')\n"
        "MODEL = 'seqnas.d:Net'\n"
        "register(model='seqnas.pkg.sub:build.inner')\n"
        "dynamic = importlib.import_module(f'seqnas.{GROUP}')  # not a literal: unknowable\n")
    assert imports_of("seqnas.x", src, known) == {"seqnas.a", "seqnas.b", "seqnas.c", "seqnas.d", "seqnas.pkg.sub"}
    init = tmp_path / "__init__.py"
    init.write_text("from seqnas._lazy import lazy_names\n"
                    "_WHERE = {'A': 'sub', **{n: 'other' for n in ('B', 'C')}}\n"
                    "__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals(), [])\n")
    assert imports_of("seqnas.pkg", init, known) == {"seqnas.pkg.sub", "seqnas.pkg.other"}
    # In the package as it is: the registry's lazy references and the top package's lazy names.
    g = graph()
    assert "seqnas.models.rnn_macro" in g["seqnas.families"] and "seqnas.api" in g["seqnas"]


# The layers, lowest first (docs/DESIGN.md, "Layers"): a module may import its own layer and those
# below it, never one above. The first matching prefix decides a module's layer.
LAYERS: list[tuple[str, ...]] = [
    ("seqnas.errors", "seqnas.checks", "seqnas.seeds", "seqnas.threads", "seqnas._lazy", "seqnas.families", "seqnas.timeaxis"),
    ("seqnas.space", "seqnas.trial", "seqnas.tasks"),
    ("seqnas.models", "seqnas.storage", "seqnas.pareto", "seqnas.baselines", "seqnas.progress", "seqnas.statistical"),
    ("seqnas.evaluation",),
    ("seqnas.strategies", "seqnas.execution", "seqnas.final", "seqnas.candidates", "seqnas.study", "seqnas.tabular"),
    ("seqnas.runner", "seqnas.result", "seqnas.show"),
    ("seqnas.api", "seqnas.export", "seqnas.forecast", "seqnas.ensemble", "seqnas.composite"),
    ("seqnas.race.spec",),
    ("seqnas.report",),
    ("seqnas.race",),
    ("seqnas.cli", "seqnas.dashboard", "seqnas.testing", "seqnas"),
]


def layer(module: str) -> int:
    best = max(((len(p), i) for i, names in enumerate(LAYERS) for p in names
                if module == p or (p != "seqnas" and module.startswith(p + "."))),
               default=(0, -1))
    assert best[1] >= 0, f"{module} is in no layer of tests/test_structure.py's LAYERS (and docs/DESIGN.md): place it"
    return best[1]


def test_imports_go_down_the_layers() -> None:
    up = [f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
          for a, bs in sorted(checked_graph().items()) for b in sorted(bs) if layer(b) > layer(a)]
    assert up == []


def test_layers_place_every_module_and_catch_an_upward_import() -> None:
    assert layer("seqnas.cli.parsers") > layer("seqnas.api") > layer("seqnas.runner") > layer("seqnas.trial")
    assert layer("seqnas.race.spec") < layer("seqnas.report.data") < layer("seqnas.race.run")
    with pytest.raises(AssertionError, match="in no layer"):
        layer("seqnas.somewhere_new")


@pytest.mark.parametrize("name", sorted(modules()))
def test_long_modules_state_why(name: str) -> None:
    path = modules()[name]
    lines = path.read_text(encoding="utf-8").count("\n")
    if lines > MAX_LINES:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert REASON in doc, f"{path.relative_to(ROOT.parent)} has {lines} lines: split it, or say why at its top ('{REASON} ...')"
