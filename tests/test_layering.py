"""The package's layering: packages in pipeline order, each importing only from the layers below it (or its
own), no import cycles (imports inside functions count too), and nothing outside the research harness
imports it."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fqselect"

# Lowest first. A module may import from its own layer and the layers below it, never above.
LAYERS = [
    ("fqselect.errors", "fqselect.options", "fqselect.cores", "fqselect.records", "fqselect.urls"),
    ("fqselect.zoo",),
    ("fqselect.decode",),
    ("fqselect.faces",),
    ("fqselect.quality",),
    ("fqselect.choose",),
    ("fqselect.output",),
    ("fqselect.run",),
    ("fqselect.api",),
    ("fqselect.cli",),
    ("fqselect.__main__",),
    ("fqselect.research",),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
                candidates = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fqselect"):
                candidates = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names if a.name.startswith("fqselect")]
            else:
                continue
            graph[name] |= {c for c in candidates if c in modules and c != name}
    return graph


def layer_of(module: str) -> int | None:
    for number, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return number
    return None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt == "fqselect":  # the package's __init__ loads nothing eagerly (PEP 562 lazy API)
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles():
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_every_module_has_a_layer():
    graph = import_graph()
    assert [m for m in graph if m != "fqselect" and layer_of(m) is None] == []


def test_imports_point_down_the_pipeline():
    graph = import_graph()
    upward = sorted(f"{m} -> {t}" for m in graph for t in graph[m]
                    if t != "fqselect" and m != "fqselect" and layer_of(t) > layer_of(m))
    assert upward == []


def test_the_layering_check_catches_an_upward_import():
    assert layer_of("fqselect.decode.pyav") < layer_of("fqselect.choose.topk") < layer_of("fqselect.research.train")


def test_the_product_never_imports_the_research_harness():
    graph = import_graph()
    product = [m for m in graph if not m.startswith("fqselect.research")]
    leaks = {m: sorted(t for t in graph[m] if t.startswith("fqselect.research")) for m in product}
    assert not {m: t for m, t in leaks.items() if t}
