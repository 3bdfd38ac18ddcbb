"""How output is compared and errors are shown.

The comparison itself is the prelude's (`static/coding/prelude.py`), the file
the browser's runner loads too: imported here, not copied, so the browser and
the server cannot disagree. Trailing whitespace on each line and at the end
never counts (as Moodle CodeRunner's default grader); a test's author picks a
mode: exact, numbers (with a tolerance), ignore case, ignore all whitespace.
Prompts printed by `input()` are not part of the output.
"""
from __future__ import annotations

import importlib.util
import re

from babyowl.grading.sandbox import CODING

FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+)')


def _load_prelude():
    spec = importlib.util.spec_from_file_location("babyowl_prelude", CODING / "prelude.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # outside Pyodide it only defines functions
    return module


_prelude = _load_prelude()
COMPARE_MODES: tuple[str, ...] = _prelude.COMPARE_MODES
DEFAULT_TOLERANCE: float = _prelude.DEFAULT_TOLERANCE


def normalise(text: str) -> str:
    return _prelude._babyowl_normalise(text)


def same_output(actual: str, expected: str, mode: str = "exact", tolerance: float | None = None) -> bool:
    return _prelude._babyowl_same_output(actual, expected, mode, tolerance)


def student_traceback(stderr: str) -> tuple[str, int | None]:
    """The traceback trimmed to the student's own frames (main.py), and the line of the error in their code."""
    lines = stderr.rstrip("\n").split("\n")
    if not lines or "Traceback (most recent call last):" not in lines:
        return stderr, None
    start = lines.index("Traceback (most recent call last):")
    kept, error_line, keep = [lines[start]], None, False
    for line in lines[start + 1:]:
        frame = FRAME.match(line)
        if frame:
            keep = frame["file"] in ("main.py", "test.py")
            if keep and frame["file"] == "main.py":
                error_line = int(frame["line"])
        elif not line.startswith(" "):
            keep = True  # the exception itself ("ValueError: ...")
        if keep:
            kept.append(line)
    return "\n".join(lines[:start] + kept), error_line
