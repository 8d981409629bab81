"""The package's layers: every import points down (or within its layer), none forms a circle,
and none hides inside a function to dodge one.

The layers, bottom first (a module may import from its own layer and the ones below)::

    foundation   errors, registry, plugins, files, checks, memory, signals, device, rng, ...
    components   nets, priors, likelihoods, guides, optim, schedulers, plots, callbacks
    inference    infer, compiled
    data         data
    models       models
    registries   registries (the one list of every registry)
    config       config (names resolved against the registries)
    run files    runfiles, rundir, checkpoint
    run data     run_data (the data a config describes, M1 codes included)
    runs         runs (reading a run back)
    work         training, compare
    interface    cli, the package's __init__ (which import lazily: --help loads no torch)
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pyrovae"

LAYERS = [
    ("foundation", {"errors", "_version", "registry", "plugins", "files", "device", "rng",
                    "checks", "memory", "params", "noise", "distributed", "divergence", "progress",
                    "recipes", "signals"}),
    ("components", {"nets", "priors", "likelihoods", "guides", "optim", "schedulers", "plots",
                    "callbacks"}),
    ("inference", {"infer", "compiled"}),
    ("data", {"data"}),
    ("models", {"models"}),
    ("registries", {"registries"}),
    ("config", {"config"}),
    ("run files", {"runfiles", "rundir", "checkpoint"}),
    ("run data", {"run_data"}),
    ("runs", {"runs"}),
    ("work", {"training", "compare"}),
    ("interface", {"cli", "__main__", "__init__"}),
]
#: modules whose function-level imports are deliberate: the command line and the package
#: load what a command needs when it runs (``pyrovae --help`` imports neither torch nor Pyro)
LAZY = {"cli", "__init__"}


def layer_of(top):
    for index, (_, members) in enumerate(LAYERS):
        if top in members:
            return index
    raise AssertionError(f"pyrovae.{top} is in no layer of tests/test_layers.py: add it")


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def imports(path):
    """``(target module, line, at module level)`` for every import of a pyrovae module."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    top_level = set()
    for node in tree.body:  # module level, including inside a top-level try/if
        top_level.update(id(n) for n in ast.walk(node)
                         if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            top_level.difference_update(id(n) for n in ast.walk(node) if n is not node)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            targets = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pyrovae"):
            targets = [node.module]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.startswith("pyrovae")]
        else:
            continue
        found.extend((t, node.lineno, id(node) in top_level) for t in targets)
    return found


def top_name(dotted):
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


MODULES = sorted(PACKAGE.rglob("*.py"))


def resolve(target, known):
    """The module an import names: ``pkg.attr`` is the package when ``attr`` is a name in it."""
    while target not in known and "." in target:
        target = target.rpartition(".")[0]
    return target


def test_every_import_points_down_or_within_its_layer():
    known = {module_name(p) for p in MODULES}
    upward = []
    for path in MODULES:
        source = module_name(path)
        for target, line, _ in imports(path):
            target = resolve(target, known)
            if layer_of(top_name(target)) > layer_of(top_name(source)):
                upward.append(f"{source}:{line} imports {target}")
    assert upward == []


def test_no_import_hides_in_a_function():
    hidden = [f"{module_name(path)}:{line} imports {target}"
              for path in MODULES if top_name(module_name(path)) not in LAZY
              for target, line, top in imports(path) if not top]
    assert hidden == []


def test_the_module_level_imports_form_no_circle():
    known = {module_name(p) for p in MODULES}
    graph = {module_name(p): {resolve(t, known) for t, _, top in imports(p) if top}
             for p in MODULES}
    # a package imports its own submodules from __init__; those edges point down into it
    graph = {m: {t for t in targets if t != m and not t.startswith(m + ".")}
             for m, targets in graph.items()}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The checks can fail: an import from a lower layer up, and one hidden in a function,
    are found."""
    fake = PACKAGE / "errors.py"
    source = fake.read_text() + "\n\ndef _probe():\n    from .training import Trainer\n"
    monkeypatch.setattr(Path, "read_text",
                        lambda self, *a, **k: source if self == fake else
                        Path.read_bytes(self).decode())
    with pytest.raises(AssertionError):
        test_every_import_points_down_or_within_its_layer()
    with pytest.raises(AssertionError):
        test_no_import_hides_in_a_function()
