"""docs/promises.md names only tests that exist: every file, and every test function given
with `::` (a bare `::name` continues the file named before it in the same row)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "promises.md"
CODE = re.compile(r"`([^`]+)`")


def named_tests(text: str) -> list[tuple[int, str, str | None]]:
    """(line number, test file, function or None) for each test a table row names."""
    out: list[tuple[int, str, str | None]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("|"):
            continue
        current: str | None = None
        for ref in CODE.findall(line):
            path, _, func = ref.partition("::")
            if path.startswith("tests/"):
                current = path
            elif path or current is None:
                continue  # a path elsewhere (source, a command): not a test reference
            out.append((number, current, func or None))
    return out


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def test_every_test_named_in_promises_md_exists() -> None:
    named = named_tests(DOC.read_text())
    assert len(named) > 30  # the table was read at all
    missing = []
    for number, file, func in named:
        path = ROOT / file
        if not path.is_file():
            missing.append(f"line {number}: {file} does not exist")
        elif func is not None and func not in functions_in(path):
            missing.append(f"line {number}: {file} has no test {func}")
    assert not missing, "docs/promises.md names missing tests:\n" + "\n".join(missing)


def test_the_check_sees_a_missing_test() -> None:
    row = "| 1 | x | `tests/test_promises_doc.py::test_nope`, `::test_every_test_named_in_pro` |"
    assert named_tests(row) == [
        (1, "tests/test_promises_doc.py", "test_nope"),
        (1, "tests/test_promises_doc.py", "test_every_test_named_in_pro"),
    ]
    assert "test_nope" not in functions_in(ROOT / "tests/test_promises_doc.py")
