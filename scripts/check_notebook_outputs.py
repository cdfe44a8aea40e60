"""Run every ```rust cell of a notebook in notebooks-md/ as a program and compare what it prints
with the ```text block that follows it (the output the notebook shows the reader).

The doctests (`cargo test --release --doc`) check each cell's assertions; this script checks that
the *shown* output is still what the code prints, e.g. after a kernel change moved the last digits.

    python3 scripts/check_notebook_outputs.py notebooks-md/bert-layer-by-layer.md [...]

Each cell is written to examples/zz_notebook_cell.rs (removed afterwards) and run with
`cargo run --release --example`. Exit status 1 if any shown output differs.

Outputs that depend on the CPU (which SIMD kernels it has) are shown once per kind of CPU, each in a
block fenced as ```text cpu-dependent (the line before each says which CPU printed it); the check
passes when the cell prints what one of those blocks shows.
"""
import os
import subprocess
import sys

CELL = "examples/zz_notebook_cell.rs"


def cells(path):
    lines = open(path).read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].startswith("```rust"):
            start, body = i + 1, []
            i += 1
            while not lines[i].startswith("```"):
                line = lines[i]
                body.append(line[2:] if line.startswith("# ") else ("" if line == "#" else line))
                i += 1
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            shown = []
            if j < len(lines) and lines[j].startswith("```text"):
                k, out = j + 1, []
                while not lines[k].startswith("```"):
                    out.append(lines[k])
                    k += 1
                shown.append("\n".join(out))
                if "cpu-dependent" in lines[j]:
                    # The other CPUs' outputs: every further cpu-dependent block before the next cell.
                    k += 1
                    while k < len(lines) and not lines[k].startswith("```rust"):
                        if lines[k].startswith("```text") and "cpu-dependent" in lines[k]:
                            m, out = k + 1, []
                            while not lines[m].startswith("```"):
                                out.append(lines[m])
                                m += 1
                            shown.append("\n".join(out))
                            k = m
                        k += 1
            yield start, "\n".join(body), shown
        i += 1


def main():
    bad = 0
    try:
        for path in sys.argv[1:]:
            for line, src, shown in cells(path):
                if not shown:
                    continue
                if "fn main" not in src:
                    src = "fn main() -> nanobert::Result<()> {\n" + src + "\nOk(())\n}"
                open(CELL, "w").write(src)
                r = subprocess.run(["cargo", "run", "--release", "-q", "--example", "zz_notebook_cell"],
                                   capture_output=True, text=True)
                got = r.stdout.rstrip("\n")
                ok = r.returncode == 0 and any(got == s.rstrip("\n") for s in shown)
                print(f"{'ok  ' if ok else 'DIFF'} {path}:{line}")
                if not ok:
                    bad += 1
                    print("--- shown\n" + "\n--- or\n".join(shown) + "\n--- printed\n" + got + r.stderr[-2000:])
    finally:
        if os.path.exists(CELL):
            os.remove(CELL)
    sys.exit(1 if bad else 0)


main()
