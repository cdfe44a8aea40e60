"""Check every relative link of the course: in the Markdown sources and in the built book.

    python3 scripts/check_links.py            # sources only
    python3 scripts/check_links.py --book     # also target/book/ (run `mdbook build docs` first)

Sources: README.md, docs/**/*.md, notebooks-md/*.md, exercises/**/*.md. Each relative link
(`[text](path)`, `![alt](path)`, outside code) must name a file or folder of the repository, and an
`#anchor` into a Markdown file must match one of its headings (GitHub's and mdBook's slug rule).
The book: each relative `href`/`src` of each page of target/book must name a file of the book, and
an `#anchor` an `id` of that page. Also checks that docs/SUMMARY.md names only existing files and
that every chapter file in docs/ is in it (a chapter outside SUMMARY.md is a warning, not an error).
Exit status 1 on any broken link. Used by .ci/run.
"""

import glob
import html
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TOKEN = re.compile(r"(`[^`]*`)|!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^()\s]+)\)")


def slug(heading):
    """mdBook's (and, for ASCII, GitHub's) anchor of a heading."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"`", "", text)
    out = []
    for ch in text:
        if ch.isalnum() or ch in "-_":
            out.append(ch)
        elif ch == " ":
            out.append("-")
    return "".join(out)


def headings(path):
    anchors, fence = set(), None
    for line in open(path, encoding="utf-8"):
        s = line.strip()
        if s.startswith("```") or s.startswith("~~~"):
            fence = None if fence else s[:3]
            continue
        if fence is None and s.startswith("#"):
            anchors.add(slug(s.lstrip("#")))
    return anchors


def links(path):
    fence = None
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        s = line.strip()
        if s.startswith("```") or s.startswith("~~~"):
            fence = None if fence else s[:3]
            continue
        if fence is not None or s.startswith("{{#include"):
            continue
        for m in TOKEN.finditer(line):
            if m.group(3):
                yield n, m.group(3)


def check_sources(errors):
    files = ["README.md"] + glob.glob("docs/**/*.md", recursive=True) + glob.glob("notebooks-md/*.md") + glob.glob(
        "exercises/**/*.md", recursive=True)
    count = 0
    for f in sorted(files):
        for n, target in links(f):
            if re.match(r"^[a-z]+:", target) or target.startswith("//"):
                continue  # web links: not checked (no network in CI)
            count += 1
            path, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
            if not os.path.exists(dest):
                errors.append(f"{f}:{n}: link to a missing file: {target}")
            elif anchor and dest.endswith(".md") and anchor not in headings(dest):
                errors.append(f"{f}:{n}: no heading #{anchor} in {dest}")
    return count


def check_summary(errors, warnings):
    summary = "docs/SUMMARY.md"
    listed = set()
    for n, target in links(summary):
        listed.add(os.path.normpath(os.path.join("docs", target)))
    for f in glob.glob("docs/**/*.md", recursive=True):
        # A chapter whose SUMMARY entry is still its outline is shown there (scripts/book_links.py).
        shown_as_outline = os.path.normpath(os.path.join("docs", "outline", os.path.relpath(f, "docs"))) in listed
        if f != summary and os.path.normpath(f) not in listed and not shown_as_outline:
            warnings.append(f"{f}: not in docs/SUMMARY.md, so not in the book")


def check_book(errors):
    book = os.path.join("target", "book")
    if not os.path.isdir(book):
        errors.append("target/book does not exist: run `mdbook build docs` first")
        return 0
    ids = {}
    pages = glob.glob(os.path.join(book, "**", "*.html"), recursive=True)
    for p in pages:
        ids[os.path.normpath(p)] = set(re.findall(r'\bid="([^"]+)"', open(p, encoding="utf-8").read()))
    count = 0
    for p in pages:
        if os.path.basename(p) in ("print.html", "404.html", "toc.html"):
            continue  # generated copies of the chapters / navigation
        text = open(p, encoding="utf-8").read()
        for target in re.findall(r'\b(?:href|src)="([^"]+)"', text):
            target = html.unescape(target)
            if re.match(r"^[a-z]+:", target) or target.startswith("//"):
                continue
            count += 1
            path, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(p), path)) if path else os.path.normpath(p)
            if not os.path.exists(dest):
                errors.append(f"{p}: link to a missing file: {target}")
            elif anchor and dest.endswith(".html") and anchor not in ids.get(dest, set()):
                errors.append(f"{p}: no id #{anchor} in {dest}")
    return count


def main():
    os.chdir(ROOT)
    errors, warnings = [], []
    n = check_sources(errors)
    check_summary(errors, warnings)
    msg = f"check_links: {n} relative links in the Markdown sources"
    if "--book" in sys.argv:
        msg += f", {check_book(errors)} in the built book"
    for w in warnings:
        print("warning:", w)
    for e in errors:
        print("error:", e)
    print(f"{msg}; {len(errors)} broken")
    sys.exit(1 if errors else 0)


main()
