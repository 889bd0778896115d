"""Shared by the architecture checks in .ci/: reads the crate's Rust files
with comments, strings and char literals blanked out (so braces and words
inside them do not count), and maps each file to its module path."""

import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def blank(text):
    """`text` with comments, string and char literals replaced by spaces
    (newlines kept, so line numbers stay true)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 260]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + len(hashes) + 2)
            j = n if end < 0 else end + 1 + len(hashes)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"' or (c == "b" and text.startswith('b"', i) and not (i and text[i - 1].isalnum())):
            j = i + (2 if c == "b" else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", text[i:j + 1]))
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:i + 12])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_tests(code):
    """Drops `#[cfg(test)]` / `#[cfg(all(test, ...))]` items (test modules):
    they may reach anywhere."""
    while True:
        m = re.search(r"#\[cfg\((all\()?test\b[^\]]*\]\s*(pub(\([a-z]+\))?\s+)?mod\s+\w+\s*\{", code)
        if not m:
            return code
        depth, j = 1, m.end()
        while j < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
        code = code[:m.start()] + re.sub(r"[^\n]", " ", code[m.start():j]) + code[j:]


def module_of(path):
    """`src/sys/proc/mod.rs` -> `sys::proc`; `src/lib.rs` -> `crate`."""
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] == "mod" or rel == ["lib"] or rel == ["main"]:
        rel = rel[:-1]
    return "::".join(rel) or "crate"


def files():
    for root, _, names in os.walk(SRC):
        for name in sorted(names):
            if name.endswith(".rs"):
                yield os.path.join(root, name)


def load(path):
    with open(path, encoding="utf-8") as f:
        return blank(f.read())


def rel(path):
    return os.path.relpath(path, os.path.join(SRC, ".."))


def fail(problems, what):
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} {what}", file=sys.stderr)
        sys.exit(1)
