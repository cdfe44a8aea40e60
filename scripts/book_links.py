"""mdBook preprocessor: turn the repository's relative links into the book's links.

The chapters (docs/*.md) and the notebooks (notebooks-md/*.md) are written to be read on their own,
in the repository: a chapter links its notebook as `../notebooks-md/tensors.md` and a source file as
`../src/tensor/storage.rs`. In the book, a notebook is the page `notebooks/tensors.md` (it pulls the
file in with {{#include}}), and source files are not part of the book. So, for every page:

- a link to `docs/X` becomes a link to `X`, and a link to `notebooks-md/Y.md` one to `notebooks/Y.md`,
  both made relative to the page;
- a link to any other file of the repository becomes plain text naming the file:
  "[`Storage`](../src/tensor/storage.rs)" reads "`Storage` (`src/tensor/storage.rs`)".

A chapter still listed in SUMMARY.md as its outline (`outline/X.md`) is shown with the text of
`docs/X.md` as soon as that file exists, and links to `docs/X.md` lead there: a chapter that lands
after SUMMARY.md was last edited is in the book all the same.

Code blocks are left alone. mdbook runs this with the book's folder (docs/) as working directory;
see docs/book.toml. `python3 scripts/book_links.py --self-test` checks the rewriting rules.
"""

import json
import os
import posixpath
import re
import sys

# A code span, or a link / image whose text may hold code spans and one level of brackets.
TOKEN = re.compile(r"(`[^`]*`)|(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^()\s]+)\)")


def repo_dir_of(source_path):
    """Folder, relative to the repository root, of the file whose text this page shows."""
    if source_path.startswith("notebooks/"):
        return "notebooks-md"
    return posixpath.normpath(posixpath.join("docs", posixpath.dirname(source_path)))


def rewrite_target(target, repo_dir, page_dir):
    """Book target for a link written in a file of `repo_dir`; None when it is not in the book."""
    if re.match(r"^[a-z]+:", target) or target.startswith("#") or target.startswith("/"):
        return target
    path, _, anchor = target.partition("#")
    repo_path = posixpath.normpath(posixpath.join(repo_dir, path))
    if repo_path.startswith("docs/"):
        book_path = repo_path[len("docs/"):]
        if book_path in OUTLINED:
            book_path = "outline/" + book_path
    elif repo_path.startswith("notebooks-md/") and repo_path.endswith(".md"):
        book_path = "notebooks/" + repo_path[len("notebooks-md/"):]
    else:
        return None
    rel = posixpath.relpath(book_path, page_dir or ".")
    return rel + ("#" + anchor if anchor else "")


def repo_path_of(target, repo_dir):
    path = target.partition("#")[0]
    return posixpath.normpath(posixpath.join(repo_dir, path))


def rewrite(content, source_path, repo_dir=None):
    """Rewrites the links of a page shown at `source_path` whose text was written in `repo_dir`."""
    repo_dir = repo_dir or repo_dir_of(source_path)
    page_dir = posixpath.dirname(source_path)
    out, fence = [], None
    for line in content.split("\n"):
        stripped = line.lstrip()
        if fence is None and (stripped.startswith("```") or stripped.startswith("~~~")):
            fence = stripped[:3]
            out.append(line)
            continue
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            out.append(line)
            continue

        def sub(m):
            if m.group(1):
                return m.group(1)
            bang, text, target = m.group(2), m.group(3), m.group(4)
            new = rewrite_target(target, repo_dir, page_dir)
            if new is not None:
                return f"{bang}[{text}]({new})"
            path = repo_path_of(target, repo_dir)
            if path in text:
                return text
            return f"{text} (`{path}`)"

        out.append(TOKEN.sub(sub, line))
    return "\n".join(out)


# Chapters whose SUMMARY.md entry is still the outline, but whose real text has landed in docs/.
OUTLINED = set()


def find_outlined(summary="SUMMARY.md", docs="."):
    found = set()
    if not os.path.exists(summary):
        return found
    for m in re.finditer(r"\]\(outline/([^)#]+\.md)\)", open(summary, encoding="utf-8").read()):
        if os.path.exists(os.path.join(docs, m.group(1))):
            found.add(m.group(1))
    return found


def walk(items):
    for item in items:
        if isinstance(item, dict) and "Chapter" in item:
            ch = item["Chapter"]
            src = ch.get("source_path")
            if src and src.startswith("outline/") and src[len("outline/"):] in OUTLINED:
                # The chapter has landed: show its text, written in docs/, on the outline's page.
                real = src[len("outline/"):]
                ch["content"] = rewrite(open(real, encoding="utf-8").read(), src, repo_dir="docs")
            elif src:
                ch["content"] = rewrite(ch["content"], src)
            walk(ch.get("sub_items", []))


def self_test():
    got = rewrite("See [notebook](../notebooks-md/tensors.md#2-how) and [`Storage`](../src/a.rs).",
                  "tensors.md")
    assert got == "See [notebook](notebooks/tensors.md#2-how) and `Storage` (`src/a.rs`).", got
    got = rewrite("[chapter 1](../docs/tensors.md), [pic](../docs/img/a.svg)\n```\n[x](../src/a.rs)\n```",
                  "notebooks/tensors.md")
    assert got == "[chapter 1](../tensors.md), [pic](../img/a.svg)\n```\n[x](../src/a.rs)\n```", got
    got = rewrite("`[not](a link)` and [`src/main.rs`](../src/main.rs)", "setup.md")
    assert got == "`[not](a link)` and `src/main.rs`", got
    OUTLINED.add("profiling.md")
    got = rewrite("[p](profiling.md), [t](tensors.md), ![i](img/a.svg)", "outline/profiling.md", repo_dir="docs")
    assert got == "[p](profiling.md), [t](../tensors.md), ![i](../img/a.svg)", got
    got = rewrite("[p](profiling.md#x)", "tensors.md")
    assert got == "[p](outline/profiling.md#x)", got
    OUTLINED.clear()
    print("book_links self-test: ok")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "supports":
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        self_test()
        return
    _context, book = json.load(sys.stdin)
    OUTLINED.update(find_outlined())
    walk(book.get("items", book.get("sections", [])))
    json.dump(book, sys.stdout)


if __name__ == "__main__":
    main()
