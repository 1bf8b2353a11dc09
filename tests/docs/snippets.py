"""Running a document's code blocks as tests (README.md, docs/*.md): its fenced
blocks in order, the Python ones in one namespace, from a fresh directory that
holds a copy of the repository's schemes/. Where a line's comment shows the
result (`# Suspended(...)`, `# 'settled'`, `# [...]`), the value must match:
a name followed by "(" claims the result's type, a Python literal its value
(the longest run of the comment's first words that reads as one); any other
comment claims nothing."""

import ast
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent.parent
FENCE = re.compile(r"^```([A-Za-z]*)\n(.*?)^```", re.S | re.M)


class Block(NamedTuple):
    lang: str  # "python", "sh", "scheme", ...
    line: int  # the document line of the block's first line of code
    source: str


def blocks(path, langs=None):
    """The fenced code blocks of the document at path, in order (only those in
    langs, when given)."""
    text = Path(path).read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        if langs is None or m.group(1) in langs:
            out.append(Block(m.group(1), text.count("\n", 0, m.start(2)) + 1, m.group(2)))
    return out


def python_snippets(path):
    """The ```python blocks of the document, as source strings."""
    return [b.source for b in blocks(path, ("python",))]


def expected_of(comment):
    """What a result comment claims: ("type", name) or ("value", literal), or None."""
    text = comment.strip()
    m = re.match(r"([A-Z][A-Za-z]+)\(", text)
    if m:
        return ("type", m.group(1))
    words = text.split(" ")
    for n in range(len(words), 0, -1):
        try:
            return ("value", ast.literal_eval(" ".join(words[:n]).rstrip(":,")))
        except (ValueError, SyntaxError):
            continue
    return None


def checks(source):
    """{line number: expected} for each one-line expression statement with a result comment."""
    lines = source.splitlines()
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Expr) and node.lineno == node.end_lineno:
            line = lines[node.lineno - 1]
            if "#" in line[node.end_col_offset:]:
                exp = expected_of(line[node.end_col_offset:].split("#", 1)[1])
                if exp is not None:
                    out[node.lineno] = exp
    return out


def run_snippet(source, namespace, filename="README.md", first_line=1):
    """Run source statement by statement in namespace, checking the result
    comments. Errors and tracebacks name filename and the document's lines
    (first_line: where source starts in it)."""
    tree = ast.parse(source)
    want = checks(source)
    for node in tree.body:
        exp = want.get(node.lineno) if isinstance(node, ast.Expr) else None
        text, line = ast.unparse(node), node.lineno + first_line - 1
        ast.increment_lineno(node, first_line - 1)
        if exp is not None:
            value = eval(compile(ast.Expression(node.value), filename, "eval"), namespace)
            kind, claim = exp
            got = type(value).__name__ if kind == "type" else value
            assert got == claim, f"{filename} line {line}, {text!r}: shows {claim!r}, gives {got!r}"
        else:
            exec(compile(ast.Module([node], []), filename, "exec"), namespace)


@contextmanager
def in_fresh_directory(tmp_path):
    """chdir into tmp_path holding a copy of the repository's schemes/ (and back)."""
    shutil.copytree(ROOT / "schemes", tmp_path / "schemes")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(cwd)
