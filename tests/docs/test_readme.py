"""Every Python snippet README.md shows runs, in order, in one namespace, from a
fresh directory holding the repository's schemes/; where a line's comment shows
the result (`# Suspended(...)`, `# 'settled'`, `# [...]`), the value must match
(the runner: tests/docs/snippets.py). Shell blocks are not run here: the
"Serving over HTTP" one is run by tests/serve/test_readme_serving.py; the others
are the install line and a command reference."""

import pytest

from snippets import ROOT, blocks, expected_of, in_fresh_directory, run_snippet

README = ROOT / "README.md"


def snippets():
    return blocks(README, ("python",))


def test_the_readme_has_python_snippets():
    assert len(snippets()) >= 4


def test_every_python_snippet_runs_and_shows_true_results(tmp_path):
    with in_fresh_directory(tmp_path):
        namespace = {}
        for block in snippets():
            run_snippet(block.source, namespace, "README.md", block.line)


@pytest.mark.parametrize("comment, expected", [
    ("Suspended(kind='reserve', ...)", ("type", "Suspended")),
    ("'awaiting-payment' (created + reserved)", ("value", "awaiting-payment")),
    ("['created', 'reserved']", ("value", ["created", "reserved"])),
    ("bytes; import_store(saved) elsewhere", None),
])
def test_result_comments_are_read_as_claims(comment, expected):
    assert expected_of(comment) == expected
