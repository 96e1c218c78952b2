"""The package's shape: imports go down the layers and never round in a cycle (function-local
imports included), and no module is over MAX_LINES lines without the reason stated at its top."""

from __future__ import annotations

import ast
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


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every seqnas module ``path`` imports anywhere in its body (top level, functions, TYPE_CHECKING)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from pkg import module` depends on the module, else on pkg
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


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
    g = {a: {b for b in bs if not is_package_init_edge(a, b)} for a, bs in graph().items()}
    assert cycles(g) == []


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(g) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_relative_and_function_local_imports_are_seen(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from seqnas.trial import Result\n    import seqnas.checks\n")
    assert imports_of("seqnas.x", src, {"seqnas.trial", "seqnas.checks", "seqnas.x"}) == {"seqnas.trial", "seqnas.checks"}


# The layers, lowest first (docs/DESIGN.md, "Layers"): a module may import its own layer and those
# below it, never one above. The first matching prefix decides a module's layer.
LAYERS: list[tuple[str, ...]] = [
    ("seqnas.errors", "seqnas.checks", "seqnas.seeds", "seqnas.threads", "seqnas._lazy", "seqnas.families", "seqnas.timeaxis"),
    ("seqnas.space", "seqnas.trial", "seqnas.tasks"),
    ("seqnas.models", "seqnas.storage", "seqnas.pareto", "seqnas.baselines", "seqnas.progress"),
    ("seqnas.evaluation",),
    ("seqnas.strategies", "seqnas.execution", "seqnas.final", "seqnas.study", "seqnas.tabular"),
    ("seqnas.runner", "seqnas.result", "seqnas.show"),
    ("seqnas.api", "seqnas.export", "seqnas.forecast"),
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
          for a, bs in sorted(graph().items()) for b in sorted(bs)
          if not is_package_init_edge(a, b) and layer(b) > layer(a)]
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
