"""The package's import graph: every import, function-local ones included; its circles; its longest files.

A function-local import (`def f(): from .x import y`) hides a circle from the
interpreter, not from the design, so every `import` and `from ... import`
anywhere in a module counts, including those under `if TYPE_CHECKING:`.
`from . import x` counts as an import of the module `x`.

Usage:

    python scripts/import_graph.py [PACKAGE_DIR] [--longest N]

Prints each circle (a strongly connected group of modules, with one cycle
through it), the number of modules and arrows, and the longest files. Exits 1
when there is a circle.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str, modules: set[str]) -> set[str]:
    """Package modules that module `name` (file `path`) imports, anywhere in its body."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def add(target: str) -> None:
        # the longest prefix that is a module of the package: `a.b.c` -> `a.b` when `c` is a name in it
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                full = f"{prefix}.{alias.name}"
                add(full if full in modules else prefix)
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def one_cycle(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """A shortest cycle through the first module of a circle (breadth-first inside the group)."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, ()) & members):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    return group


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("package", nargs="?", type=Path, default=Path(__file__).resolve().parent.parent / "cifar_doctor")
    ap.add_argument("--longest", type=int, default=5, help="how many of the longest files to list (default 5)")
    args = ap.parse_args(argv)
    root = args.package.resolve()
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    modules = set(files)
    graph = {name: imports_of(path, name, modules) for name, path in files.items()}
    arrows = sum(len(v) for v in graph.values())
    found = circles(graph)
    print(f"{len(modules)} modules, {arrows} import arrows (function-local imports included)")
    print(f"circles: {len(found)}")
    for group in found:
        print(f"  {len(group)} modules: {' -> '.join(one_cycle(graph, group))}")
        if len(group) > 2:
            print(f"    all of: {', '.join(group)}")
    lengths = sorted(
        ((len(p.read_text(encoding="utf-8").splitlines()), name) for name, p in files.items()), reverse=True
    )
    print("longest files:")
    for n, name in lengths[: args.longest]:
        print(f"  {n:5d}  {files[name].relative_to(root.parent)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
