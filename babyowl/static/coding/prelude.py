"""Run before every program, in the browser's runner and in the grader: one convention for both.

input() reads the program's input lines (a test's own lines when grading) and
raises EOFError when they run out. Its prompt is not part of the compared
output: the browser shows the prompt and the line read (through an echo hook
it installs), the grader prints nothing. A test's code runs after the program
in its namespace, and the value of its last line, if any, is printed.
"""
import ast
import builtins
import sys


def _babyowl_input(prompt=""):
    line = sys.stdin.readline()
    if not line:
        raise EOFError("EOF when reading a line (the program input has no more lines)")
    line = line[:-1] if line.endswith("\n") else line
    echo = getattr(sys, "__babyowl_echo__", None)
    if echo is not None:
        echo(str(prompt) + line)
    return line


builtins.input = _babyowl_input


def _babyowl_check(source, namespace):
    tree = ast.parse(source, "test.py", "exec")
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "test.py", "exec"), namespace)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), "test.py", "eval"), namespace)
        if value is not None:
            print(value)


if "/home/pyodide" not in sys.path:
    sys.path.insert(0, "/home/pyodide")  # where turtle.py is written
