"""The Python core both runners load (the browser's worker and the grader's sandbox): one convention for both.

- input() reads the program's input lines (a test's own lines when grading) and
  raises EOFError when they run out. Its prompt is not part of the compared
  output: the browser shows the prompt and the line read (through an echo hook
  it installs), the grader prints nothing.
- `_babyowl_run(source, stdin, test_code)` runs a program as `python main.py`
  would, in a fresh namespace: `sys.exit()`/`exit()`/`raise SystemExit` end the
  program, not the interpreter, and its output so far counts; a test's code then
  runs in the program's namespace (only when the program ended cleanly), and the
  value of its last line, if any, is printed. Both streams are flushed before it
  returns, so a last line printed without a newline is never lost.
- `_babyowl_same_output(actual, expected, mode)` is the one comparison: the
  server imports this file for it, so the browser and the grader cannot disagree.

On the server this file is also imported as a plain module (for the comparison):
it changes nothing in the importing interpreter unless it runs under Pyodide.
"""
import ast
import builtins
import io
import linecache
import math
import re
import sys
import traceback

PROGRAM_FILE = "main.py"
TEST_FILE = "test.py"
# Taken now: a program that replaces ast.parse, print or exec cannot change how its test is checked.
_parse, _Expr, _Expression, _compile, _exec, _eval, _print = (
    ast.parse, ast.Expr, ast.Expression, compile, exec, eval, print)


def _babyowl_input(prompt=""):
    line = sys.stdin.readline()
    if not line:
        raise EOFError("EOF when reading a line (the program input has no more lines)")
    line = line[:-1] if line.endswith("\n") else line
    echo = getattr(sys, "__babyowl_echo__", None)
    if echo is not None:
        echo(str(prompt) + line)
    return line


def _babyowl_check(source, namespace):
    tree = _parse(source, TEST_FILE, "exec")
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], _Expr) else None
    _exec(_compile(tree, TEST_FILE, "exec"), namespace)
    if last is not None:
        value = _eval(_compile(_Expression(last.value), TEST_FILE, "eval"), namespace)
        if value is not None:
            _print(value)


def _remember_source(filename, source):
    # Tracebacks show the student's lines, as CPython does for a file.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def _exit_code(exit_request):
    """CPython's rule for SystemExit: None is 0, an int is itself, anything else is printed and is 1."""
    code = exit_request.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _own_frames(error):
    """The traceback without this file's frames: the student sees main.py and test.py only."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename not in (PROGRAM_FILE, TEST_FILE):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb))


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a program may have replaced or closed its streams
            pass


def _babyowl_run(source, stdin=None, test_code="", namespace=None):
    """Run one program (and a test's code) as CPython would; returns {"exit_code", "error"}.

    `stdin`, when given, becomes the program's whole input (a test's lines);
    None leaves sys.stdin as the host set it (the browser's interactive input).
    `error` is the traceback or exit message written to stderr, or None.
    """
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    if namespace is None:
        namespace = {"__name__": "__main__", "__builtins__": builtins}
    outcome = {"exit_code": 0, "error": None}
    steps = [(PROGRAM_FILE, source)] + ([(TEST_FILE, test_code)] if test_code else [])
    for filename, text in steps:
        _remember_source(filename, text)
        try:
            if filename == PROGRAM_FILE:
                _exec(_compile(text, PROGRAM_FILE, "exec"), namespace)
            else:
                _babyowl_check(text, namespace)
        except SystemExit as exit_request:
            _flush()
            outcome["exit_code"] = _exit_code(exit_request)
            if outcome["exit_code"] != 0:
                outcome["error"] = "" if exit_request.code is None else str(exit_request.code)
                break
        except BaseException as error:  # KeyboardInterrupt too: the program stopped with it
            _flush()
            message = _own_frames(error)
            sys.stderr.write(message)
            outcome.update(exit_code=1, error=message)
            break
    _flush()
    return outcome


# -- comparing output -------------------------------------------------------
# A test's author chooses how its output is compared; the student sees the mode
# in the test's description. Trailing whitespace on each line and at the end
# never counts (as Moodle CodeRunner's default grader).

COMPARE_MODES = ("exact", "numbers", "ignore_case", "ignore_whitespace")
DEFAULT_TOLERANCE = 1e-6
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _babyowl_normalise(text):
    return "\n".join(line.rstrip() for line in str(text).replace("\r\n", "\n").split("\n")).rstrip()


def _same_numbers(actual, expected, tolerance):
    """Equal text once every number matches within `tolerance` (absolute or relative): 225.0 matches 225."""
    actual_numbers, expected_numbers = _NUMBER.findall(actual), _NUMBER.findall(expected)
    if len(actual_numbers) != len(expected_numbers):
        return False
    if _NUMBER.sub("#", actual).split() != _NUMBER.sub("#", expected).split():
        return False
    for got, want in zip(actual_numbers, expected_numbers):
        got, want = float(got), float(want)
        if not math.isclose(got, want, rel_tol=tolerance, abs_tol=tolerance):
            return False
    return True


def _babyowl_same_output(actual, expected, mode="exact", tolerance=DEFAULT_TOLERANCE):
    actual, expected = _babyowl_normalise(actual), _babyowl_normalise(expected)
    if mode == "numbers":
        return _same_numbers(actual, expected, DEFAULT_TOLERANCE if tolerance is None else float(tolerance))
    if mode == "ignore_case":
        return actual.casefold() == expected.casefold()
    if mode == "ignore_whitespace":
        return "".join(actual.split()) == "".join(expected.split())
    return actual == expected


if sys.platform == "emscripten":
    builtins.input = _babyowl_input
    if "/home/pyodide" not in sys.path:
        sys.path.insert(0, "/home/pyodide")  # where turtle.py is written
