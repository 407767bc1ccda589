"""The package's shape: no import cycles, layers that only import downwards, small modules.

Every module under ``mediamix/`` is parsed with :mod:`ast` (nothing is imported), and every
import of one mediamix module by another is an edge of a graph. Edges are of three kinds:

- ``module``: executed when the importing module is imported (top level, also inside a
  top-level ``try`` or ``if``);
- ``deferred``: inside a function or method, executed when it runs;
- ``typing``: under ``if TYPE_CHECKING:``, seen only by the type checker.

There must be no cycle among module-level edges (Python could not import the modules), and none
among all edges either (the modules would still depend on each other). The package is layered
in the order the data flows, and a module may import only from its own layer or lower ones:

errors, runtime, config -> data -> lakehouse -> model -> inference -> analysis -> report
-> mlops -> scaleout -> app -> databricks -> cli

with one kind of exception: the leaf modules in :data:`FOUNDATION_MODULES`, each with its
reason, belong to the bottom layer wherever they live.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mediamix"

#: Layers from the bottom up; a module's layer is its sub-package (or top-level module).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("", "errors", "runtime", "config"),
    ("data",),
    ("lakehouse",),
    ("model",),
    ("inference",),
    ("analysis",),
    ("report",),
    ("mlops",),
    ("scaleout",),
    ("app",),
    ("databricks",),
    ("cli", "__main__", "commands"),
)

#: Modules that belong to the bottom layer although their sub-package is higher, and why. They
#: are leaves (they import only the bottom layer), so lower layers may build on them.
FOUNDATION_MODULES: dict[str, str] = {
    "mediamix.model.transforms": (
        "the adstock and saturation formulas, on numpy or PyTensor: the data generator "
        "simulates with the same formulas the model fits"
    ),
    "mediamix.model.registry": (
        "the catalogue of transform types, their parameters and default priors: the model "
        "config validates against it and the generator simulates with it"
    ),
}

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

#: Functions allowed over the limit, by qualified name -> why.
LONG_FUNCTION_EXCEPTIONS: dict[str, str] = {
    "mediamix.data.generator.Generator.generate": (
        "simulates one data set component by component in a single pass; not yet split"
    ),
}


@dataclass(frozen=True)
class Edge:
    """``importer`` imports ``imported`` at ``line``, of one of the kinds in the docstring."""

    importer: str
    imported: str
    kind: str
    line: int

    @property
    def pair(self) -> tuple[str, str]:
        """``(importer, imported)``."""
        return (self.importer, self.imported)


def module_name(path: Path) -> str:
    """``mediamix/lakehouse/tables.py`` -> ``mediamix.lakehouse.tables``."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, kind: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement in ``node`` with its kind, in every block at any depth."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node, kind
        return
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and kind == "module":
        kind = "deferred"
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        for stmt in node.body:
            yield from _imports(stmt, "typing")
        for stmt in node.orelse:
            yield from _imports(stmt, kind)
        return
    for child in ast.iter_child_nodes(node):
        yield from _imports(child, kind)


def _targets(stmt: ast.Import | ast.ImportFrom, importer: str, modules: set[str]) -> list[str]:
    """The mediamix modules a statement imports (``from pkg import mod`` names ``pkg.mod``)."""
    if isinstance(stmt, ast.Import):
        return [a.name for a in stmt.names if a.name.split(".")[0] == "mediamix"]
    base = stmt.module or ""
    if stmt.level:
        is_package = PACKAGE.joinpath(*importer.split(".")[1:], "__init__.py").is_file()
        anchor = importer.split(".")[: len(importer.split(".")) - stmt.level + is_package]
        base = ".".join([*anchor, base] if base else anchor)
    if base.split(".")[0] != "mediamix":
        return []
    out = [f"{base}.{a.name}" for a in stmt.names if f"{base}.{a.name}" in modules]
    return out if len(out) == len(stmt.names) else [*out, base]


def import_edges() -> list[Edge]:
    """Every import of a mediamix module by another, with its kind and line."""
    modules = package_modules()
    edges = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for stmt, kind in _imports(tree, "module"):
            for target in _targets(stmt, name, set(modules)):
                if target != name:
                    edges.append(Edge(name, target, kind, stmt.lineno))
    return edges


def find_cycle(edges: list[Edge]) -> list[str] | None:
    """One cycle of the graph as ``[a, b, ..., a]``, or ``None`` when there is none."""
    graph: dict[str, list[str]] = {}
    for e in edges:
        graph.setdefault(e.importer, []).append(e.imported)
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(set(graph.get(node, []))):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def _describe(cycle: list[str], edges: list[Edge]) -> str:
    steps = []
    for a, b in itertools.pairwise(cycle):
        pair = (a, b)
        how = sorted({f"{e.kind} import, line {e.line}" for e in edges if e.pair == pair})
        steps.append(f"  {a} -> {b} ({'; '.join(how)})")
    return "\n".join(steps)


def package_layer(module: str) -> int:
    """The index in :data:`LAYERS` of a module's sub-package."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{module}: sub-package {top!r} is in no layer of LAYERS; add it")


def layer_of(module: str) -> int:
    """A module's layer: 0 for :data:`FOUNDATION_MODULES`, else its sub-package's."""
    return 0 if module in FOUNDATION_MODULES else package_layer(module)


def _functions(tree: ast.AST, prefix: str) -> Iterator[tuple[str, ast.AST]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield f"{prefix}.{node.name}", node
            yield from _functions(node, f"{prefix}.{node.name}")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}.{node.name}")
        else:
            yield from _functions(node, prefix)


def function_lengths() -> dict[str, tuple[int, str]]:
    """Every function and method: qualified name -> (lines from ``def`` to its end, where)."""
    out = {}
    for name, path in package_modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for qualified, node in _functions(tree, name):
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            out[qualified] = (length, f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    return out


# --------------------------------------------------------------------------- the tests


def test_the_graph_sees_every_kind_of_import() -> None:
    kinds = {(e.importer, e.imported): e.kind for e in import_edges()}
    assert kinds[("mediamix.lakehouse.tables", "mediamix.lakehouse.delta_rs")] == "module"
    assert kinds[("mediamix.cli", "mediamix.inference.fit")] == "deferred"
    assert kinds[("mediamix.analysis.plots", "mediamix.analysis.optimize")] == "typing"


def test_no_import_cycle_among_module_level_imports() -> None:
    edges = [e for e in import_edges() if e.kind == "module"]
    cycle = find_cycle(edges)
    assert cycle is None, "module-level import cycle:\n" + _describe(cycle or [], edges)


def test_no_import_cycle_at_all() -> None:
    edges = import_edges()
    cycle = find_cycle(edges)
    assert cycle is None, (
        "import cycle (counting imports inside functions and under TYPE_CHECKING):\n"
        + _describe(cycle or [], edges)
    )


def test_lower_layers_never_import_higher_ones() -> None:
    edges = import_edges()
    upward = sorted(
        {
            f"  {e.importer} (layer {layer_of(e.importer)}) imports {e.imported} "
            f"(layer {layer_of(e.imported)}): {e.kind} import, line {e.line}"
            for e in edges
            if layer_of(e.imported) > layer_of(e.importer)
        }
    )
    order = " -> ".join("/".join(n or "mediamix" for n in names) for names in LAYERS)
    assert not upward, f"imports against the layering {order}:\n" + "\n".join(upward)


def test_every_foundation_module_is_needed() -> None:
    # needed: a module below the foundation module's own sub-package imports it
    edges = import_edges()
    below = {e.imported for e in edges if layer_of(e.importer) < package_layer(e.imported)}
    unused = sorted(set(FOUNDATION_MODULES) - below)
    assert not unused, f"FOUNDATION_MODULES lists modules no lower layer imports; remove {unused}"


def test_package_init_files_import_nothing_from_the_package() -> None:
    # a package's __init__ runs before any of its modules: imports there would hide edges
    found = sorted(
        f"{e.importer} imports {e.imported}"
        for e in import_edges()
        if PACKAGE.joinpath(*e.importer.split(".")[1:], "__init__.py").is_file()
    )
    assert not found, "package __init__ files should stay empty of mediamix imports:\n" + "\n".join(
        found
    )


def test_no_module_over_the_line_limit() -> None:
    long = sorted(
        f"  {path.relative_to(PACKAGE.parent)}: {n} lines"
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    )
    assert not long, f"modules over {MAX_MODULE_LINES} lines; split them:\n" + "\n".join(long)


def test_no_function_over_the_line_limit() -> None:
    lengths = function_lengths()
    long = sorted(
        f"  {where} {name}: {n} lines"
        for name, (n, where) in lengths.items()
        if n > MAX_FUNCTION_LINES and name not in LONG_FUNCTION_EXCEPTIONS
    )
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines; split them:\n" + "\n".join(long)
    stale = sorted(
        name
        for name in LONG_FUNCTION_EXCEPTIONS
        if lengths.get(name, (0, ""))[0] <= MAX_FUNCTION_LINES
    )
    assert not stale, f"LONG_FUNCTION_EXCEPTIONS lists functions now within the limit: {stale}"


def test_architecture_doc_lists_every_module() -> None:
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = {
        name
        for line in doc.splitlines()
        if (row := re.match(r"\| `([\w.]+)`(?:, `([\w.]+)`)? \|", line))
        for name in row.groups()
        if name
    }
    modules = {
        name.removeprefix("mediamix.")
        for name, path in package_modules().items()
        if path.name != "__init__.py"
    }
    missing, gone = sorted(modules - listed), sorted(listed - modules)
    assert not missing, f"docs/architecture.md has no row for {missing}; add one line each"
    assert not gone, f"docs/architecture.md lists modules that do not exist: {gone}"
