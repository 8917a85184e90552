#!/usr/bin/env python3
"""Prints the crate's module dependency graph (from `crate::` paths in non-test code) and fails
if two top-level modules, or two files of one module, import each other through a cycle, or
if a top-level module imports one declared after it in src/lib.rs (which lists leaves first).

Run: python3 scripts/module-graph.py [--edges]. `app` (the wiring) and `testbed` (the test
bed, compiled only for tests) are exempt as sources: they may import anything."""
import os, re, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
EXEMPT = {"app", "testbed", "main", "lib"}

def module_of(rel):
    parts = rel[:-3].split("/")
    if parts[-1] == "mod":
        parts = parts[:-1]
    return parts

def production_text(text):
    # Drop the in-file unit test module (always last in this crate) and comments.
    cut = re.search(r"^#\[cfg\(test\)\]\s*\nmod tests", text, re.M)
    if cut:
        text = text[: cut.start()]
    return "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("//"))

def main():
    edges, file_edges = {}, {}
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if not f.endswith(".rs") or f.endswith("tests.rs"):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, ROOT)
            mod = module_of(rel)
            text = production_text(open(path).read())
            # `use crate::a::{b, c}` and `crate::a::b::x` both name a::b.
            for m in re.finditer(r"crate::([a-z_]+)(?:::([a-z_]+))?", text):
                top, sub = m.group(1), m.group(2)
                if top != mod[0]:
                    if mod[0] not in EXEMPT:
                        edges.setdefault(mod[0], set()).add(top)
                elif len(mod) > 1 and sub and sub != mod[1]:
                    file_edges.setdefault(mod[0], {}).setdefault(mod[1], set()).add(sub)
            if len(mod) > 1:
                for m in re.finditer(r"\bsuper::([a-z_]+)", text):
                    if m.group(1) != mod[1]:
                        file_edges.setdefault(mod[0], {}).setdefault(mod[1], set()).add(m.group(1))
    cycles = find_cycles(edges, "crate")
    for top, g in sorted(file_edges.items()):
        cycles += find_cycles(g, top)
    if "--edges" in sys.argv:
        for k in sorted(edges):
            print(f"{k} -> {', '.join(sorted(edges[k]))}")
    for c in cycles:
        print("cycle:", c, file=sys.stderr)
    lib = open(os.path.join(ROOT, "lib.rs")).read()
    order = re.findall(r"^pub mod ([a-z_]+);", lib, re.M)
    upward = [f"{a} -> {b}" for a in sorted(edges) for b in sorted(edges[a])
              if a in order and b in order and order.index(b) > order.index(a)]
    for u in upward:
        print(f"imports a module declared later in lib.rs: {u}", file=sys.stderr)
    return 1 if cycles or upward else 0

def find_cycles(g, scope):
    out, state = [], {}
    def visit(n, stack):
        state[n] = 1
        for m in sorted(g.get(n, ())):
            if m not in g and m not in state:
                continue
            if state.get(m) == 1:
                out.append(f"{scope}: " + " -> ".join(stack[stack.index(m):] + [m]))
            elif m not in state:
                visit(m, stack + [m])
        state[n] = 2
    for n in sorted(g):
        if n not in state:
            visit(n, [n])
    return out

if __name__ == "__main__":
    sys.exit(main())
