"""The default grader backend (GRADER_BACKEND=auto): CPython's speed, Pyodide's verdicts.

The browser runs Pyodide's Python (3.14); the server's CPython is older (3.11
on Debian 12). CPython grades a submission in a fraction of Pyodide's time, so
it grades first, and every test whose CPython verdict could differ from the
browser's is handed to the Pyodide backend, the authority (the browser's own
interpreter, `sandbox.py`), which re-runs only those tests:

- the whole submission, before any CPython run, when the program does not
  compile under the server's Python (3.12+ syntax: nested same-quote
  f-strings, `type X = ...`, `def f[T]()`, `except A, B:`, t-strings, ...) or
  names something in NEWER below (`itertools.batched`, `math.sumprod`, ...)
  or in DIFFERENT (`sys.version_info`, `OrderedDict`'s repr, ...);
  a test whose own check code does either goes to Pyodide alone;
- a test that CPython ends in anything but a clean run (an exception, exit
  with an error, time, memory or output limit, a crash, a package CPython
  cannot load): error messages, limits and the packages differ between the
  two; a clean run whose output is simply wrong stays CPython's verdict;
- a clean run that took more than 1/SLOWER of its time limit: Pyodide
  (WebAssembly) ran the same programs up to ~4× slower here, so the browser
  might stop it on the limit;
- a test whose program added floats with `sum()` (3.12 made it compensated:
  `sum([0.1, 0.2, 0.3])` is 0.6000000000000001 in 3.11 and 0.6 in 3.14); the
  CPython runner watches for it (`cpython_runner.py`).
Both runs share the submission's one time budget: CPython may spend at most
CPYTHON_SHARE of it, so a submission of loops still has time left for Pyodide
to re-judge them; a test left without a Pyodide run when the budget is spent
is "not run", never CPython's verdict alone. Each TestRun says which
backend decided it (`backend`) and why Pyodide was asked (`recheck`); the
grading stores both in the submission's results, where staff see them.

What is not caught (both need a program that runs cleanly on both and prints
differently): output that depends on the Unicode database's version or on
string hashing (the order of a set of strings), and the repr of changed
objects. Make GRADER_PYTHON a CPython of the browser's minor version (then
NEWER is empty for it) and only the rare version-independent cases are left.
"""
from __future__ import annotations

import ast
import time
from dataclasses import replace

from babyowl.grading.sandbox import SandboxSettings, TestInput, TestRun

SLOWER = 5  # a clean CPython run longer than its time limit / SLOWER is re-judged (Pyodide: up to ~4× slower)
CPYTHON_SHARE = 0.5  # of the submission's time budget: the rest is kept for Pyodide's re-judging

# Standard-library names newer than Python 3.11 that a student's program may reach, with the version that added
# them; the browser's Python (Pyodide 314: 3.14) has all of them. Kept small on purpose: a name that is missing
# under CPython raises (NameError, ImportError, AttributeError) and a raising test goes to Pyodide anyway; this
# list catches the programs that would catch that error and go on, and saves their CPython run. A test checks
# that each entry is missing from the server's Python and present in Pyodide's.
NEWER: dict[str, dict[str, tuple[int, int]]] = {
    "builtins": {"PythonFinalizationError": (3, 13)},
    "itertools": {"batched": (3, 12)},
    "math": {"sumprod": (3, 12), "fma": (3, 13)},
    "random": {"binomialvariate": (3, 12)},
    "statistics": {"kde": (3, 13), "kde_random": (3, 14)},
    "copy": {"replace": (3, 13)},
    "calendar": {"Month": (3, 12), "Day": (3, 12)},
    "heapq": {"heapify_max": (3, 14), "heappush_max": (3, 14), "heappop_max": (3, 14),
              "heapreplace_max": (3, 14), "heappushpop_max": (3, 14)},
    "operator": {"is_none": (3, 14), "is_not_none": (3, 14)},
    "functools": {"Placeholder": (3, 14)},
    "base64": {"z85encode": (3, 13), "z85decode": (3, 13)},
    "os": {"process_cpu_count": (3, 13)},
    "typing": {"override": (3, 12), "TypeAliasType": (3, 12), "TypeIs": (3, 13), "ReadOnly": (3, 13)},
    "warnings": {"deprecated": (3, 13)},
    "uuid": {"uuid7": (3, 14), "uuid8": (3, 14), "uuid6": (3, 14)},
}
# Whole modules newer than 3.11.
NEWER_MODULES: dict[str, tuple[int, int]] = {"annotationlib": (3, 14), "string.templatelib": (3, 14),
                                             "compression": (3, 14)}
# Names that exist on both but answer differently, found by printing ~170 common expressions under both (most of
# the standard library beginners use prints the same): the interpreter's own version and platform, and a repr
# 3.12 changed. "*": any attribute of the module. Any use sends the whole submission to Pyodide.
DIFFERENT: dict[str, set[str]] = {
    "sys": {"version", "version_info", "hexversion", "platform", "implementation", "api_version"},
    "platform": {"*"},
    "locale": {"getlocale"},
    "collections": {"OrderedDict"},  # repr: OrderedDict([('a', 1)]) in 3.11, OrderedDict({'a': 1}) from 3.12
}


def newer_names(version: tuple[int, int]) -> dict[str, set[str]]:
    """{module: names} of NEWER that an interpreter of `version` lacks."""
    return {module: {name for name, added in names.items() if added > version} for module, names in NEWER.items()}


def why_browser_python(source: str, version: tuple[int, int]) -> str | None:
    """A reason code when `source` needs the browser's Python to be judged right, or None.

    "syntax": it does not compile here; "newer:<module.name>": it names something newer than `version`;
    "differs:<module.name>": it names something that answers differently there (DIFFERENT).
    Compiled, never run: the worker's own Python parses it (its parser has depth limits; anything odd → Pyodide).
    """
    try:
        tree = compile(source, "main.py", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        compile(tree, "main.py", "exec", dont_inherit=True)  # the checks after parsing (return outside a def …)
    except SyntaxError:
        return "syntax"
    except (ValueError, RecursionError, MemoryError):  # NUL bytes, a program too deep for this parser
        return "syntax"
    newer = newer_names(version)
    modules = {name for name, added in NEWER_MODULES.items() if added > version}

    def watched(module: str, name: str) -> str | None:
        if name in newer.get(module, ()):
            return f"newer:{module}.{name}"
        different = DIFFERENT.get(module, set())  # the platform differs whatever the version
        if name in different or "*" in different:
            return f"differs:{module}.{name}"
        return None

    imported: dict[str, str] = {}  # local name → module it names
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules or alias.name.split(".")[0] in modules:
                    return f"newer:{alias.name}"
                imported[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module in modules or node.module.split(".")[0] in modules:
                return f"newer:{node.module}"
            for alias in node.names:
                if (reason := watched(node.module, alias.name)) is not None:
                    return reason
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = imported.get(node.value.id)
            if module and (reason := watched(module, node.attr)) is not None:
                return reason
        elif isinstance(node, ast.Name) and node.id in newer["builtins"]:
            return f"newer:{node.id}"
    return None


def run_tests(settings: SandboxSettings, code: str, inputs: list[TestInput], time_limit: float,
              packages: list[str] | None = None) -> list[TestRun]:
    """CPython first; Pyodide for every test whose CPython verdict could differ from the browser's."""
    from babyowl.grading import cpython, sandbox

    budget_end = time.monotonic() + settings.time_budget
    fast = replace(settings, backend="cpython", time_budget=settings.time_budget * CPYTHON_SHARE)
    authority = replace(settings, backend="pyodide")
    sandbox.check_available(fast)
    sandbox.check_available(authority)
    version = cpython.interpreter_version(settings.python)
    program = why_browser_python(code, version)
    recheck: dict[int, str] = {}
    if program is not None:
        recheck = dict.fromkeys(range(len(inputs)), program)
        runs: list[TestRun | None] = [None] * len(inputs)
    else:
        for index, test in enumerate(inputs):
            if test.code and (reason := why_browser_python(test.code, version)) is not None:
                recheck[index] = "test_" + reason
        fast_indexes = [i for i in range(len(inputs)) if i not in recheck]
        fast_runs = sandbox.run_tests(fast, code, [inputs[i] for i in fast_indexes], time_limit, packages) \
            if fast_indexes else []
        runs = [None] * len(inputs)
        for index, run in zip(fast_indexes, fast_runs):
            run.index = index
            if run.status == "ok" and not run.recheck and run.seconds <= time_limit / SLOWER:
                runs[index] = run
            elif run.status == "ok" and not run.recheck:
                recheck[index] = "cpython_slow"
            else:  # an exceptional end, a float sum, or the budget (Pyodide has the rest of it)
                recheck[index] = run.recheck or f"cpython_{run.status}"
    if recheck:
        order = sorted(recheck)
        remaining = budget_end - time.monotonic()
        if remaining > 0:
            slow_runs = sandbox.run_tests(replace(authority, time_budget=remaining), code,
                                          [inputs[i] for i in order], time_limit, packages)
        else:
            slow_runs = [TestRun(i, "not_run", stderr="time budget spent", backend="pyodide") for i in order]
        for index, run in zip(order, slow_runs):
            run.index, run.recheck = index, recheck[index]
            runs[index] = run
    return [run for run in runs if run is not None]
