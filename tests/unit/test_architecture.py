"""The package layout rules of docs/architecture.md, checked on the source with ``ast``.

Every ``import`` / ``from ... import`` of every module counts, at module level and inside
functions (lazy imports); only ``if TYPE_CHECKING:`` blocks are left out (they never run).
``from pkg import name`` points at ``pkg.name`` when that is a module, else at ``pkg``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "lightning_meta"
MAX_LINES = 350
MAX_ROOT_MODULES = 4
# layer -> packages it must not import. The layers data -> models -> algorithms -> lightning ->
# evaluation -> cli each import only downward; callbacks, reliability, bench and tuning sit beside
# them and are never imported by the four lowest.
BESIDE = ("callbacks", "reliability", "bench", "tuning")
FORBIDDEN = {
    "data": ("models", "algorithms", "lightning", "evaluation", "cli", *BESIDE),
    "models": ("algorithms", "lightning", "evaluation", "cli", *BESIDE),
    "algorithms": ("lightning", "evaluation", "cli", *BESIDE),
    "lightning": ("cli", *BESIDE),
    "evaluation": ("cli", "bench", "tuning"),
}
# the only evaluation modules the lightning layer may import (its validation/test loop)
LIGHTNING_MAY_IMPORT = ("lightning_meta.evaluation.metrics", "lightning_meta.evaluation.scoring")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def imports_of(name: str) -> set[str]:
    """The lightning_meta modules ``name`` imports (anywhere but TYPE_CHECKING blocks)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        out |= {t for t in targets if t in MODULES and t != name}
    return out


GRAPH = {name: imports_of(name) for name in MODULES}


def layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and (ROOT / parts[1]).is_dir() else None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that starts and ends at the same module), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_import_graph_is_read() -> None:
    assert "lightning_meta.lightning.base" in GRAPH
    assert "lightning_meta.evaluation.scoring" in GRAPH["lightning_meta.lightning.base"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, " -> ".join(cycle or [])


def test_only_cli_imports_cli() -> None:
    bad = sorted(
        f"{m} imports {t}"
        for m, targets in GRAPH.items()
        if layer(m) != "cli"
        for t in targets
        if layer(t) == "cli"
    )
    assert not bad, bad


@pytest.mark.parametrize("low", sorted(FORBIDDEN))
def test_layers_import_only_downward(low: str) -> None:
    bad = sorted(
        f"{m} imports {t}"
        for m, targets in GRAPH.items()
        if layer(m) == low
        for t in targets
        if layer(t) in FORBIDDEN[low]
        or (low == "lightning" and layer(t) == "evaluation" and t not in LIGHTNING_MAY_IMPORT)
    )
    assert not bad, bad


def test_evaluation_scoring_is_below_lightning() -> None:
    for name in LIGHTNING_MAY_IMPORT:
        assert not {t for t in GRAPH[name] if layer(t) == "lightning"}, name


def test_no_module_over_the_line_limit() -> None:
    long = {name: n for name, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}  # fmt: skip
    assert not long, long


def test_few_modules_at_the_package_root() -> None:
    loose = sorted(p.name for p in ROOT.glob("*.py"))
    assert len(loose) <= MAX_ROOT_MODULES, loose
