#!/usr/bin/env python3
"""The library's shape, checked: layering, cycles and file sizes of src/ (CI runs this).

1. Every `crate::X` a module of src/ names (outside comments and `#[cfg(test)]` items) must be a
   layer that module may use (LAYERS below, the order of docs/architecture.md): data flows one
   way, tensor -> ops -> quant -> nn -> graph -> bert -> pipeline, with io and text beside the
   stack and meeting it only in pipeline. A use outside the table fails, and so does any import
   cycle between top-level modules.
2. No library file is longer than MAX_LINES lines outside its tests (comments count) (a file per concept), but for
   the few in ALLOW_LONG, each with the reason it stays whole.

Usage: python3 scripts/check_layers.py [--graph]   (--graph prints every module's imports)
       python3 scripts/check_layers.py --self-test
Exit status 1 when a rule is broken, with every offending file and line.
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SRC = os.path.join(ROOT, "src")

# What each top-level module of src/ may use (besides itself). The base every layer may use:
BASE = {"error", "profile"}
LAYERS = {
    "error": set(),
    "profile": {"error"},
    "threads": {"error"},
    "tensor": BASE,
    "ops": BASE | {"tensor", "threads"},
    # lower-precision formats and their GEMMs: beside ops' GEMM, below the modules that use them
    "quant": BASE | {"tensor", "ops", "threads"},
    "nn": BASE | {"tensor", "ops", "quant", "threads"},
    # checkpoint files: produce tensors, know nothing of models or tokenizers
    "io": BASE | {"tensor"},
    # tokenization: strings in, ids out; knows nothing of tensors or files' other contents
    "text": BASE,
    # a graph of ops, its passes, memory plan and interpreter: knows ops and layers, not models
    "graph": BASE | {"tensor", "ops", "quant", "nn", "threads"},
    # BERT's modules, traced into a graph (bert/trace.rs) that its forward runs; `bert`
    # implements its `ParamSource` for io's `WeightMap` (names, not files)
    "bert": BASE | {"tensor", "ops", "quant", "nn", "graph", "io", "threads"},
    # the one place io, text, bert and graph meet
    "pipeline": BASE | {"tensor", "ops", "quant", "nn", "io", "text", "bert", "graph", "threads"},
    # NaN/inf policy for results: re-traces a model on a text, so above pipeline
    "finite": BASE | {"tensor", "ops", "nn", "io", "text", "bert", "pipeline"},
    # JSONL streaming over pipeline's tasks
    "stream": BASE | {"tensor", "io", "text", "bert", "pipeline", "finite", "threads"},
}
# Files of src/ that are not library modules (the crate root; the notebooks' doctests).
NOT_MODULES = {"lib", "notebooks"}

# Known breaks being removed (printed, not failed): (from, to) imports and long files. Empty
# this list; never grow it.
PENDING_EDGES = {
}
PENDING_LONG = {
}

MAX_LINES = 500
# path under src/ -> why it stays one file (keep this short; every entry is a debt).
ALLOW_LONG = {}


def strip_comments(text):
    """The code of a Rust file without comments, string contents and char literals (lines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if text[i] == "\n" else "")
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r"r(#*)\"", text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end + 1 + len(hashes)
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]) or c == "'" and re.match(r"'\\u\{[0-9a-fA-F]+\}'", text[i:i + 12]):
            j = text.find("'", i + 2 if text[i + 1] == "\\" else i + 1)
            out.append("' '")
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def test_spans(code):
    """(start, end) offsets of every `#[cfg(test)]` item of comment-free `code`: from the
    attribute to the `;` or the `}` matching the item's first `{`, whichever comes first."""
    spans, pos = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]", code):
        if m.start() < pos:
            continue
        j, depth = m.end(), 0
        while j < len(code):
            ch = code[j]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    j += 1
                    break
            elif ch == ";" and depth == 0:
                j += 1
                break
            j += 1
        spans.append((m.start(), j))
        pos = j
    return spans


def strip_test_items(code):
    """`code` with every `#[cfg(test)]` item blanked out (newlines kept, so line numbers hold)."""
    out, pos = [], 0
    for start, end in test_spans(code):
        out.append(code[pos:start] + "\n" * code.count("\n", start, end))
        pos = end
    return "".join(out) + code[pos:]


def non_test_lines(text):
    """Lines of a file outside its `#[cfg(test)]` items (comments and blank lines count)."""
    code = strip_comments(text)
    tests = sum(code.count("\n", start, end) + 1 for start, end in test_spans(code))
    return len(text.splitlines()) - tests


def root_reexports(lib_rs):
    """Names the crate root re-exports -> the module they come from (`pub use error::Result`)."""
    names = {}
    for m in re.finditer(r"pub use (\w+)::(\{[^}]*\}|\w+)\s*;", strip_comments(lib_rs)):
        for name in re.findall(r"\w+", m.group(2)):
            names[name] = m.group(1)
    return names


def imports(code, reexports):
    """(line, module) for every top-level module `code` names through `crate::`."""
    found = []
    for m in re.finditer(r"\bcrate::(\{|\w+)", code):
        line = code.count("\n", 0, m.start()) + 1
        if m.group(1) == "{":
            # the first name of every path in the group: `crate::{ops, tensor::Rng, Error}`
            depth, j = 1, m.end()
            while j < len(code) and depth:
                depth += {"{": 1, "}": -1}.get(code[j], 0)
                j += 1
            group, names, depth, start = code[m.end():j - 1], [], 0, True
            for tok in re.finditer(r"\w+|[{},]|::", group):
                t = tok.group(0)
                if t == "{":
                    depth += 1
                elif t == "}":
                    depth -= 1
                elif t == ",":
                    start = depth == 0
                elif start and depth == 0 and t != "::":
                    names.append(t)
                    start = False
        else:
            names = [m.group(1)]
        for name in names:
            if name == "self":
                continue
            found.append((line, reexports.get(name, name)))
    return found


def module_of(rel):
    return rel.split(os.sep)[0].removesuffix(".rs")


def scan(src=SRC):
    """edges {(from, to): [(file, line)]}, long files [(file, lines)], modules seen."""
    reexports = root_reexports(open(os.path.join(src, "lib.rs")).read())
    edges, long_files, modules = {}, [], set()
    for dirpath, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, src)
            mod = module_of(rel)
            if mod in NOT_MODULES:
                continue
            modules.add(mod)
            text = open(path).read()
            code = strip_test_items(strip_comments(text))
            lines = non_test_lines(text)
            if lines > MAX_LINES:
                long_files.append((rel, lines))
            for line, dep in imports(code, reexports):
                if dep != mod:
                    edges.setdefault((mod, dep), []).append((rel, line))
    return edges, long_files, modules


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check(src=SRC, show_graph=False):
    edges, long_files, modules = scan(src)
    problems = []
    for mod in sorted(modules - LAYERS.keys()):
        problems.append(f"src/{mod}: a module the layering does not know; add it to LAYERS in scripts/check_layers.py")
    for (a, b), places in sorted(edges.items()):
        if (a, b) in PENDING_EDGES:
            print(f"check_layers: pending (a known break being removed): {a} -> {b}")
            continue
        if a in LAYERS and b not in LAYERS.get(a, set()):
            where = ", ".join(f"src/{f}:{l}" for f, l in places[:4]) + (" ..." if len(places) > 4 else "")
            problems.append(f"{a} -> {b}: {a} may not use {b} (layering): {where}")
    for comp in cycles({e: p for e, p in edges.items() if e not in PENDING_EDGES}):
        problems.append("import cycle between " + ", ".join(comp))
    for rel, lines in long_files:
        if rel in PENDING_LONG:
            print(f"check_layers: pending (a known break being removed): src/{rel} has {lines} lines")
        elif rel not in ALLOW_LONG:
            problems.append(f"src/{rel}: {lines} lines outside its tests (> {MAX_LINES}): split it by concept")
    for rel in sorted(ALLOW_LONG):
        if not any(r == rel for r, _ in long_files):
            problems.append(f"src/{rel} is in ALLOW_LONG but no longer long: remove it from the list")
    problems += doc_files_missing()
    if show_graph:
        for mod in sorted(modules):
            print(f"{mod:>9} -> " + ", ".join(sorted({b for (a, b) in edges if a == mod})))
    for p in problems:
        print("check_layers: " + p)
    if not problems:
        print(f"check_layers: {len(modules)} modules, {len(edges)} imports between them, no cycle, "
              f"none against the layering, no file over {MAX_LINES} lines"
              + (f" (but {len(PENDING_EDGES) + len(PENDING_LONG)} pending breaks above)" if PENDING_EDGES or PENDING_LONG else ""))
    return not problems


def doc_files_missing(doc=os.path.join(ROOT, "docs", "architecture.md")):
    """Every `name.rs` (or `dir/name.rs`) docs/architecture.md names is a file of the repository."""
    if not os.path.exists(doc):
        return []
    have = set()
    for top in ("src", "crates", "bindings", "exercises", "tests"):
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [x for x in dirs if x != "target"]
            for f in files:
                have.add("/" + os.path.relpath(os.path.join(d, f), ROOT))
    named = set(re.findall(r"[A-Za-z0-9_/.-]*[A-Za-z0-9_]\.rs\b", open(doc).read()))
    return [f"docs/architecture.md names {n}, which is no file of the repository"
            for n in sorted(named) if not any(h.endswith("/" + n.lstrip("/")) for h in have)]


def self_test():
    code = strip_comments('use crate::ops; // crate::io\nlet s = "crate::text";\n/* crate::bert */ x::crate::nn;')
    got = imports(code, {})
    assert [d for _, d in got] == ["ops", "nn"], got
    got = imports("use crate::{ops::{a, b}, tensor::Rng, Error, Result};", {"Error": "error", "Result": "error"})
    assert [d for _, d in got] == ["ops", "tensor", "error", "error"], got
    code = strip_test_items("fn a() { crate::ops::x(); }\n#[cfg(test)]\nmod tests {\n use crate::io;\n}\nuse crate::nn;")
    assert [d for _, d in imports(code, {})] == ["ops", "nn"], code
    assert strip_test_items("#[cfg(test)]\nuse crate::io;\nuse crate::nn;").count("crate::") == 1
    assert cycles({("a", "b"): [], ("b", "c"): [], ("c", "a"): [], ("c", "d"): []}) == [["a", "b", "c"]]
    assert cycles({("a", "b"): [], ("b", "c"): []}) == []
    assert strip_comments("let c = '\"'; crate::io").endswith("crate::io")
    assert strip_comments('let s = r#"crate::x "quoted""#; crate::io').count("crate::") == 1
    assert non_test_lines("fn a() {}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() {}\n}\n") == 2
    print("check_layers: self-test ok")


if __name__ == "__main__":
    if "--self-test" in sys.argv:
        self_test()
        sys.exit(0)
    sys.exit(0 if check(show_graph="--graph" in sys.argv) else 1)
