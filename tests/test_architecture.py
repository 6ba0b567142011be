"""The package's shape, read from its source with ``ast`` (no import, no GNU Radio): no import cycles,
torch only where training is, and the training method chosen only through the method registries."""
from __future__ import annotations

import ast
import os

import pytest

SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python", "semcom")
PACKAGE = "semcom"
# the modules allowed to name methods: the registries themselves
REGISTRIES = {"semcom.methods", "semcom.training.registry"}
# packages that run without torch (cli: but for the training and export commands)
NO_TORCH = ("codecs", "phy", "evaluation", "flowgraphs", "blocks", "cli")
TORCH_CLI = {"semcom.cli.train", "semcom.cli.export"}
METHOD_WORDS = {"method"}  # a name, attribute or key holding a training method's name
CARD_WORDS = {"codec"}  # a card's key holding it
CARD_READERS = {"card_codec"}  # functions returning it


class Module:
    def __init__(self, name: str, path: str, is_package: bool, tree: ast.Module):
        self.name, self.path, self.is_package, self.tree = name, path, is_package, tree

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]


def modules(root: str = SOURCE, package: str = PACKAGE) -> dict[str, Module]:
    """{dotted name: Module} for every .py file under ``root``."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        rel = os.path.relpath(folder, root)
        prefix = package if rel == "." else package + "." + rel.replace(os.sep, ".")
        for f in sorted(files):
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                with open(path) as fh:
                    tree = ast.parse(fh.read(), path)
                init = f == "__init__.py"
                name = prefix if init else prefix + "." + f[:-3]
                out[name] = Module(name, path, init, tree)
    return out


def absolute(module: Module, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` names, relative levels resolved."""
    if not node.level:
        return node.module or ""
    base = module.package.split(".")
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported(module: Module) -> list[tuple[str, list[str]]]:
    """(module, names taken from it) for every import in ``module``, in functions too; the names of
    ``import x.y`` are empty."""
    out = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((absolute(module, node), [alias.name for alias in node.names]))
    return out


def defined(module: Module) -> set[str]:
    """Top-level names a module defines or imports."""
    names = set()
    for node in module.tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def reexported(mods: dict[str, Module], package: str) -> dict[str, str] | None:
    """For a package whose __init__ only imports its own submodules: {name: the submodule defining
    it}; None for any other package."""
    init = mods.get(package)
    if init is None or not init.is_package:
        return None
    sources = []
    for node in ast.walk(init.tree):
        if isinstance(node, ast.Import):
            return None
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            target = absolute(init, node)
            if target.rpartition(".")[0] != package or target not in mods:
                return None
            sources.append(target)
    names = {}
    for sub in sources:
        names.update({n: sub for n in defined(mods[sub])})
    return names


def graph(mods: dict[str, Module]) -> dict[str, set[str]]:
    """Import edges between the package's modules. A name taken from a package that only re-exports
    its submodules is an edge to the submodule defining it, and such a package's own imports are
    not edges: importing it runs its submodules, but none of them depends on the package."""
    edges = {name: set() for name in mods}
    for name, module in mods.items():
        if reexported(mods, name) is not None:
            continue
        for target, names in imported(module):
            if not target.startswith(PACKAGE + ".") and target != PACKAGE:
                continue
            reexports = reexported(mods, target)
            for n in names or [None]:
                if n is not None and f"{target}.{n}" in mods:
                    edges[name].add(f"{target}.{n}")
                elif n is not None and reexports is not None and n in reexports:
                    edges[name].add(reexports[n])
                elif target in mods and (n is None or not mods[target].is_package or n in defined(mods[target])):
                    edges[name].add(target)  # (a name a package does not define: a compiled submodule)
        edges[name].discard(name)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
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

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def method_dispatch(module: Module) -> list[str]:
    """Comparisons of a method name (``method``, ``x.method``, ``x["method"]``, ``x.get("method")``,
    a card's ``codec``, ``card_codec(...)``) with a string literal (``==``, ``!=``, ``in``, ``not in``),
    as 'line: source'."""
    keys = METHOD_WORDS | CARD_WORDS

    def key(node, words) -> bool:
        return isinstance(node, ast.Constant) and node.value in words

    def names_method(node) -> bool:
        if isinstance(node, ast.Name):
            return node.id in METHOD_WORDS
        if isinstance(node, ast.Attribute):
            return node.attr in METHOD_WORDS
        if isinstance(node, ast.Subscript):
            return key(node.slice, keys)
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name == "get":
                return bool(node.args) and key(node.args[0], keys)
            if name == "getattr":
                return len(node.args) > 1 and key(node.args[1], METHOD_WORDS)
            return name in CARD_READERS
        return False

    def literal(node) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str)
        return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(literal(e) for e in node.elts)

    found = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn))
                                                 for op in node.ops):
            sides = [node.left] + node.comparators
            if any(names_method(s) for s in sides) and any(literal(s) for s in sides):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def torch_imports(module: Module) -> list[str]:
    return [t for t, _ in imported(module) if t == "torch" or t.startswith("torch.")]


def parse(text: str, name: str = "semcom.m", is_package: bool = False) -> Module:
    return Module(name, name, is_package, ast.parse(text))


def test_no_import_cycles():
    found = cycles(graph(modules()))
    assert found == [], "import cycles (imports must only point down):\n" + "\n".join(" <-> ".join(c) for c in found)


def test_cycle_finder_counts_lazy_relative_imports_and_skips_reexporting_packages():
    fake = {
        "semcom": parse("", "semcom", True),
        "semcom.a": parse("from . import b"),
        "semcom.b": parse("def f():\n    from .a import g\n"),  # lazy: still a cycle
        "semcom.p": parse("from .x import *\nfrom .y import Y\n", "semcom.p", True),
        "semcom.p.x": parse("from ..c import C\nX = 1\n", "semcom.p.x"),
        "semcom.p.y": parse("Y = 2\n", "semcom.p.y"),
        "semcom.c": parse("from .p import Y\nC = 3\n"),  # through the re-exporting package: no cycle
        "semcom.d": parse("from .p import X\n"),
    }
    assert cycles(graph(fake)) == [["semcom.a", "semcom.b"]]
    fake["semcom.c"] = parse("from .p import X\nC = 3\n")  # X's module imports c: a real cycle
    assert cycles(graph(fake)) == [["semcom.a", "semcom.b"], ["semcom.c", "semcom.p.x"]]


def test_method_chosen_only_through_the_registries():
    found = [f"{m.path}:{line}" for name, m in sorted(modules().items()) if name not in REGISTRIES
             for line in method_dispatch(m)]
    assert found == [], "string dispatch on the training method (register it in methods.py / " \
                        "training/registry.py instead):\n" + "\n".join(found)


@pytest.mark.parametrize("source", ['if cfg["model"].get("method") == "ampsc": pass',
                                    'x = getattr(model, "method", "") != "mvqvae"',
                                    'ok = method in ("ampsc", "mvqvae")', 'y = m.method == "a"',
                                    'z = "bitsemcom" == cfg["method"]',
                                    'if neural.card_codec(folder) == "mvqvae": pass',
                                    'w = card.get("codec") in ("ampsc",)'])
def test_method_dispatch_finder(source):
    assert len(method_dispatch(parse(source))) == 1
    other = source.replace("method", "variant").replace("codec", "name")
    assert method_dispatch(parse(other)) == []


def test_torch_only_in_training():
    found = [f"{m.path}: {', '.join(torch_imports(m))}" for name, m in sorted(modules().items())
             if (name.split(".") + [""])[1] in NO_TORCH and name not in TORCH_CLI and torch_imports(m)]
    assert found == [], "torch imported outside training:\n" + "\n".join(found)
    assert torch_imports(parse("def f():\n    import torch.nn\n")) == ["torch.nn"]
