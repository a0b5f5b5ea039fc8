"""No import cycles inside pyglass/, and each layer imports only the layers before it.

The graph is read from the source with `ast`, not by importing: a node per module (a package is
its `__init__.py`), an edge A -> B for every `import` or `from ... import` in A that names a pyglass
module B, wherever the statement sits (inside a function or under `if TYPE_CHECKING:` too: a
deferred import still makes A depend on B, and only hides the cycle until the import order
changes).

- `import pyglass.a.b` is an edge to `pyglass.a.b`.
- `from pyglass.a import b` is an edge to the submodule `pyglass.a.b` when that is a module, else
  (b a name defined in the package) to `pyglass.a`. Relative imports are resolved first.
- Importing `pyglass.a.b` also runs `pyglass/a/__init__.py`; that implicit step is not an edge
  (else every package whose `__init__` re-exports its submodules would form a cycle with each of
  them). Naming the package itself (`from pyglass.a import name`) is an edge.

A cycle is a strongly connected component of more than one module, or a module importing itself;
the failure lists each cycle's modules and the import statements (file:line) that close it.

Layers, in order (pyglass/__init__.py): engine, io, analysis, workflow, papers; a module of one may
import modules of its own layer and of those before it. `_ext` (the compiled kernels), `_version`
and `registry` serve every layer and import nothing from pyglass; the top package `pyglass` itself
loads only engine modules when imported, so any layer may import it (its lazily loaded short names,
`pyglass.plots` and the like, are not seen here: inside the package, import the module by its path).
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "pyglass"
LAYERS = ("engine", "io", "analysis", "workflow", "papers")
SHARED = ("pyglass._ext", "pyglass._version", "pyglass.registry")


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file for every .py under the package directory `root`."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _existing(name: str, modules) -> str | None:
    """The longest prefix of the dotted `name` that is one of `modules` (an attribute path such as
    `pyglass.a.b.func` resolves to `pyglass.a.b`); None outside the package."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in modules:
            return candidate
    return None


def import_edges(modules: dict[str, Path]) -> dict[str, dict[str, int]]:
    """module -> {imported module: line of the first statement naming it}."""
    edges: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        out = edges.setdefault(name, {})

        def add(target, line):
            if target is not None:
                out.setdefault(target, line)

        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(_existing(alias.name, modules), node.lineno)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    add(sub if sub in modules else _existing(base, modules), node.lineno)
    return edges


def strongly_connected(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted, in a stable order."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(edges.get(succ, ())))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return sorted(components)


def import_cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Components that hold a cycle: more than one module, or a module that imports itself."""
    return [c for c in strongly_connected(edges) if len(c) > 1 or c[0] in edges.get(c[0], {})]


def describe(cycle: list[str], edges, modules, root: Path) -> str:
    """The cycle's modules and, one a line, each import between two of them (file:line)."""
    members = set(cycle)
    lines = [" <-> ".join(cycle)]
    for a in cycle:
        for b, line in sorted(edges[a].items()):
            if b in members:
                lines.append(f"    {modules[a].relative_to(root.parent)}:{line}  {a} -> {b}")
    return "\n".join(lines)


def test_pyglass_has_no_import_cycles():
    modules = module_files(PACKAGE_ROOT)
    edges = import_edges(modules)
    assert len(modules) > 50 and sum(map(len, edges.values())) > 100, "the scan found too little"
    cycles = import_cycles(edges)
    assert not cycles, "import cycles in pyglass/:\n" + "\n".join(describe(c, edges, modules, PACKAGE_ROOT) for c in cycles)


def layer_of(module: str):
    """Index of the module's layer in LAYERS; None for the top package and the shared modules."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_each_layer_imports_only_the_layers_before_it():
    modules = module_files(PACKAGE_ROOT)
    edges = import_edges(modules)
    assert all(any(layer_of(m) == k for m in modules) for k in range(len(LAYERS))), "a layer has no module"
    unplaced = [m for m in modules if layer_of(m) is None and m != "pyglass"
                and not any(m == s or m.startswith(s + ".") for s in SHARED)]
    assert not unplaced, f"modules in no layer (put them in one of {LAYERS}, or list them in SHARED): {unplaced}"
    wrong = []
    for a, targets in sorted(edges.items()):
        for b, line in sorted(targets.items()):
            la, lb = layer_of(a), layer_of(b)
            shared_source = any(a == s or a.startswith(s + ".") for s in SHARED)
            if (shared_source or (la is not None and lb is not None and lb > la)):
                wrong.append(f"    {modules[a].relative_to(PACKAGE_ROOT.parent)}:{line}  {a} -> {b}")
    assert not wrong, f"imports against the layer order {' < '.join(LAYERS)}:\n" + "\n".join(wrong)


def test_the_scan_sees_deferred_relative_and_submodule_imports(tmp_path):
    """A planted package: a cycle closed only by an import inside a function, one through
    `from pkg import submodule`, one through a relative import, and an acyclic rest."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from pkg import a\n",
        "a.py": "import pkg.b\n",
        "b.py": "def late():\n    from pkg.a import something\n",      # a <-> b, deferred
        "c.py": "from pkg import d\n",                                   # submodule d
        "d.py": "from . import c\n",                                     # relative: c <-> d
        "e.py": "from pkg.sub import name\nimport numpy\n",             # -> pkg.sub (a name)
        "sub/__init__.py": "name = 1\n",
        "sub/f.py": "from .. import e\nfrom ..sub import name\n",       # -> pkg.e, pkg.sub
    }
    for rel, text in files.items():
        (pkg / rel).write_text(text)
    modules = module_files(pkg)
    edges = import_edges(modules)
    assert edges["pkg.e"] == {"pkg.sub": 1}
    assert edges["pkg.sub.f"] == {"pkg.e": 1, "pkg.sub": 2}
    assert edges["pkg"] == {"pkg.a": 1}
    assert import_cycles(edges) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d"]]
    report = describe(["pkg.a", "pkg.b"], edges, modules, pkg).splitlines()
    assert report == ["pkg.a <-> pkg.b", "    pkg/a.py:1  pkg.a -> pkg.b", "    pkg/b.py:2  pkg.b -> pkg.a"]
