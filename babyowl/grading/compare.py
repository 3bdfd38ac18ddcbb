"""How output is compared and errors are shown: one definition, mirrored by the browser runner.

Output: trailing whitespace on each line and at the end does not count (as
Moodle CodeRunner's default grader). Prompts printed by `input()` are not part
of the output: the runner's `input()` prints nothing.
"""
from __future__ import annotations

import re

FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+)')


def normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).rstrip()


def same_output(actual: str, expected: str) -> bool:
    return normalise(actual) == normalise(expected)


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
