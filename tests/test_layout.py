"""The layering of board/ (docs/architecture.md): no import cycles, nothing imports upward."""

import ast
from pathlib import Path

import pytest

BOARD = Path(__file__).resolve().parent.parent / "board"

# Lower layers first; a module may import its own layer and the layers below it.
LAYERS = [
    {"board.bitset", "board.numbers", "board.logs", "board.throttle", "board.metrics"},
    {"board.models"},
    {"board.store"},
    {"board.pictures", "board.sharing"},
    {"board.history", "board.live"},
    {"board.moderation"},
    # Django's entry points: whatever they need.
    {
        "board.admin",
        "board.history_admin",
        "board.live_admin",
        "board.views",
        "board.urls",
        "board.routing",
        "board.checks",
        "board.middleware",
    },
    {"board.asgi"},
    {"board.apps", "board.templatetags", "board.management", "board.migrations"},
]


def module_name(path):
    parts = path.relative_to(BOARD.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path):
    """The board modules a file imports, absolute."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            candidates = [f"{source}.{alias.name}" for alias in node.names] + [source]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found |= {c for c in candidates if c.startswith("board.") and module_exists(c)}
    return found


def module_exists(name):
    path = BOARD.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def layer_of(name):
    for number, layer in enumerate(LAYERS):
        if any(name == top or name.startswith(top + ".") for top in layer):
            return number
    raise AssertionError(f"{name} belongs to no layer of docs/architecture.md")


GRAPH = {module_name(path): imports_of(path) for path in BOARD.rglob("*.py")}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_imports_from_a_layer_above_its_own(module):
    upward = [target for target in GRAPH[module] if layer_of(target) > layer_of(module)]
    assert not upward, f"{module} imports {upward} from a higher layer"


def test_the_live_and_history_packages_do_not_import_each_other():
    for module, targets in GRAPH.items():
        for mine, other in (("board.live", "board.history"), ("board.history", "board.live")):
            if module.startswith(mine):
                assert not [t for t in targets if t.startswith(other)], f"{module} imports {other}"


def test_there_are_no_import_cycles():
    visiting, done = set(), set()

    def visit(module, path):
        if module in done:
            return
        assert module not in visiting, "import cycle: " + " -> ".join([*path, module])
        visiting.add(module)
        for target in sorted(GRAPH.get(module, ())):
            if target != module:
                visit(target, [*path, module])
        visiting.discard(module)
        done.add(module)

    for module in sorted(GRAPH):
        visit(module, [])


def test_the_app_imports_no_test_or_benchmark_support():
    for path in BOARD.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and not node.level:
                assert (node.module or "").split(".")[0] not in {"tests", "benchmarks", "harness"}, path
