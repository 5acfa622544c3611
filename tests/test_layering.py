"""Imports point down: a package imports only packages of lower layers (docs/ARCHITECTURE.md).

Every `.py` of every top-level package is parsed; every import counts, also those inside functions
and `importlib.import_module("...")` with a literal name. A package that is not in LAYERS fails the test:
a new package must be given its place here.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lower first. Within a layer packages must not import each other.
LAYERS = {
    "onewindow": 0,   # the shared foundation: config, catalogue, topics, transport, client, mirror
    "hardware": 1,    # printers and other devices, with their fakes
    "broker": 1,      # the site's own Mosquitto
    "queue_server": 2,
    "sim": 3, "kiosk": 3, "display": 3, "clerk": 3, "console": 3,
    "city": 4,        # the city tier builds on the hall's console (its city pages run in a city console)
    "demo": 4,        # a whole hall on one machine
    "bench": 5,       # benchmarks (of the city tier too)
    "cli": 6,         # the `onewindow` command; nothing imports it
}
NOT_PACKAGES = {"tests", "docs"}  # the test suite and the docs scripts may import anything


def top_level_packages(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()
                  if (p / "__init__.py").is_file() and p.name not in NOT_PACKAGES and not p.name.startswith("."))


def imported_modules(tree: ast.AST):
    """(line, module) for every absolute import in `tree`, wherever it stands."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module"
                   or getattr(node.func, "id", None) in ("import_module", "__import__"))):
            yield node.lineno, node.args[0].value


def import_edges(root: Path, packages: list[str]) -> list[tuple[str, str, str]]:
    """(importing package, imported package, "file:line") for imports between different packages."""
    edges = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, module in imported_modules(tree):
                target = module.split(".")[0]
                if target in packages and target != package:
                    edges.append((package, target, f"{path.relative_to(root)}:{line}"))
    return edges


def layering_problems(root: Path, layers: dict[str, int]) -> list[str]:
    packages = top_level_packages(root)
    problems = [f"package {p}/ has no layer: add it to LAYERS in tests/test_layering.py"
                for p in packages if p not in layers]
    edges = import_edges(root, packages)
    for source, target, where in edges:
        if source not in layers or target not in layers:
            continue
        if layers[target] > layers[source]:
            problems.append(f"{where}: {source} (layer {layers[source]}) imports {target} "
                            f"(layer {layers[target]}): an import pointing up")
        elif layers[target] == layers[source]:
            problems.append(f"{where}: {source} imports {target}, both of layer {layers[source]}: "
                            "an import sideways")
    pairs = {(s, t) for s, t, _ in edges}
    problems += [f"{s} and {t} import each other" for s, t in sorted(pairs) if s < t and (t, s) in pairs]
    return problems


def test_imports_point_down():
    problems = layering_problems(ROOT, LAYERS)
    assert not problems, "\n".join(problems)


def test_every_package_is_in_the_table():
    assert set(top_level_packages(ROOT)) <= set(LAYERS)
    assert "onewindow" in top_level_packages(ROOT) and "cli" in top_level_packages(ROOT)


# The checker itself, on small planted trees.

def plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


BASE = {"onewindow/__init__.py": "", "queue_server/__init__.py": "from onewindow import config\n",
        "kiosk/__init__.py": "", "display/__init__.py": "", "cli/__init__.py": "import kiosk\n"}


def test_a_clean_tree_passes(tmp_path):
    assert layering_problems(plant(tmp_path, BASE), LAYERS) == []


@pytest.mark.parametrize("name, text, expected", [
    ("onewindow/client.py", "from queue_server.server import QueueServer\n", "an import pointing up"),
    ("onewindow/client.py", "def f():\n    import cli.main\n", "an import pointing up"),
    ("onewindow/client.py", "import importlib\nimportlib.import_module('kiosk.command')\n", "pointing up"),
    ("kiosk/view.py", "class A:\n    def f(self):\n        from display import board\n", "an import sideways"),
    ("mystery/__init__.py", "", "package mystery/ has no layer"),
])
def test_a_planted_violation_fails(tmp_path, name, text, expected):
    problems = layering_problems(plant(tmp_path, {**BASE, name: text}), LAYERS)
    assert any(expected in p for p in problems), problems


def test_two_packages_importing_each_other_are_named(tmp_path):
    tree = plant(tmp_path, {**BASE, "kiosk/a.py": "import display\n", "display/b.py": "import kiosk\n"})
    assert "display and kiosk import each other" in layering_problems(tree, LAYERS)


def test_relative_imports_stay_inside_their_package(tmp_path):
    tree = plant(tmp_path, {**BASE, "kiosk/a.py": "from . import b\nfrom .b import c\n", "kiosk/b.py": ""})
    assert layering_problems(tree, LAYERS) == []
