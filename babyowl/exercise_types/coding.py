"""Coding exercises, in the spec's "Coding Exercise Content Schema".

Instructions are written in Markdown (kept in `instructionsSource`) and stored
rendered and sanitised in `instructions`. `maxPoints` is the sum of the test
points, computed here rather than typed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, StringField, TextAreaField
from wtforms.validators import ValidationError

from babyowl.exercise_types.assignment import instructions_html
from babyowl.exercise_types.base import (
    ExerciseForm, ExerciseType, Problems, RowsMixin, apply_row_action, choice, clean_text, is_int, next_id,
    non_empty_lines, normalise_newlines, text_value, unique, whole_number,
)
from babyowl.validators import max_length, strip

MODES = ("challenge", "playground")
OUTPUT_TYPES = ("console", "visual", "auto")
COMPLETION_CRITERIA = ("all_tests_pass", "run_once")
DEFAULT_CRITERIA = {"challenge": "all_tests_pass", "playground": "run_once"}
PACKAGE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
TEST_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
MAX_TESTS = 50
MAX_TEST_POINTS = 1000
MAX_CODE_LENGTH = 50_000
MAX_TEST_TEXT = 20_000
MAX_PACKAGES = 20
MAX_HINTS = 20
MAX_INSTRUCTIONS_LENGTH = 50_000
# How a test's output is compared: the modes of static/coding/prelude.py, the one comparison both runners use.
COMPARE_MODES = ("exact", "numbers", "ignore_case", "ignore_whitespace")
COMPARE_LABELS = [("exact", _l("Exact (trailing spaces ignored)")),
                  ("numbers", _l("Numbers, with a tolerance (225.0 matches 225)")),
                  ("ignore_case", _l("Ignore upper and lower case")),
                  ("ignore_whitespace", _l("Ignore all spaces and line breaks"))]
# What the student reads beside the test.
COMPARE_DESCRIPTIONS = {
    "exact": _l("output compared exactly (trailing spaces ignored)"),
    "numbers": _l("numbers compared with a small tolerance (225.0 matches 225)"),
    "ignore_case": _l("upper and lower case count as the same"),
    "ignore_whitespace": _l("spaces and line breaks are ignored"),
}
MAX_TOLERANCE = 1_000_000


@dataclass(frozen=True)
class GradingTest:
    """One test as the grader needs it; the content keys stay this type's business."""

    id: str | None
    name: str | None
    stdin: str
    code: str
    expected: str
    hidden: bool
    points: int
    compare: str = "exact"
    tolerance: float | None = None


def parse_packages(text: str | None) -> list[str]:
    return unique(part.strip() for part in re.split(r"[,\s]+", text or "") if part.strip())


def _trim_output(text: str) -> str:
    # Compared like the grader does: trailing spaces on each line and at the end do not count.
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip()


class TestCaseForm(Form):
    tid = HiddenField()
    test_name = StringField(_l("Test name"), filters=[strip], validators=[max_length(200)])
    stdin = TextAreaField(_l("Input lines"), filters=[normalise_newlines], validators=[max_length(MAX_TEST_TEXT)],
                          description=_l("Given to input(), one line per call."))
    input = TextAreaField(_l("Test code"), filters=[normalise_newlines], validators=[max_length(MAX_TEST_TEXT)],
                          description=_l("Python run after the student's code, e.g. solve(5, 3): the value of its "
                                         "last line, if any, is printed."))
    expected_output = TextAreaField(_l("Expected output"), filters=[normalise_newlines],
                                    validators=[max_length(MAX_TEST_TEXT)])
    compare = choice(_l("Compare output"), COMPARE_LABELS, default="exact",
                     description=_l("Shown to students beside the test."))
    tolerance = StringField(_l("Tolerance for numbers"), filters=[strip], validators=[max_length(30)],
                            description=_l("How far a number may be off, e.g. 0.01 (numbers only; default "
                                           "0.000001)."))
    is_hidden = BooleanField(_l("Hidden from students"))
    # Not required here: an empty row is left out; a filled row without points is refused by validate().
    points = whole_number(_l("Points"), minimum=0, maximum=MAX_TEST_POINTS, default=10)


class CodingForm(RowsMixin, ExerciseForm):
    mode = choice(_l("Mode"), [("challenge", _l("Challenge: graded by tests")),
                               ("playground", _l("Playground: free practice"))], default="challenge")
    instructions = TextAreaField(_l("Instructions"), filters=[normalise_newlines],
                                 validators=[max_length(MAX_INSTRUCTIONS_LENGTH)],
                                 description=_l("Written in Markdown."))
    starter_code = TextAreaField(_l("Starter code"), filters=[normalise_newlines],
                                 validators=[max_length(MAX_CODE_LENGTH)],
                                 description=_l("What students see in the editor when they start."))
    solution_code = TextAreaField(_l("Solution"), filters=[normalise_newlines],
                                  validators=[max_length(MAX_CODE_LENGTH)], description=_l("Never shown to students."))
    test_cases = FieldList(FormField(TestCaseForm), min_entries=1, max_entries=MAX_TESTS)
    required_packages = StringField(_l("Packages"), filters=[strip], validators=[max_length(1000)],
                                    description=_l("Python packages the code imports, separated by commas "
                                                   "(e.g. numpy, matplotlib)."))
    hints = TextAreaField(_l("Hints"), filters=[normalise_newlines], validators=[max_length(20000)],
                          description=_l("One hint per line, shown one at a time."))
    time_limit = whole_number(_l("Time limit (seconds)"), minimum=1, maximum=300, is_required=True, default=30)
    output_type = choice(_l("Output"), [("console", _l("Console text")), ("visual", _l("Drawing or chart")),
                                        ("auto", _l("Detect automatically"))], default="console")
    completion_criteria = choice(_l("Completed when"), [
        ("", _l("Default for the mode (challenge: all tests pass; playground: run once)")),
        ("all_tests_pass", _l("All tests pass")),
        ("run_once", _l("The code has run once")),
    ], default="")

    def validate_required_packages(self, field):
        # Refused here, where a teacher can act on it; stored content is not re-checked.
        from babyowl.grading.packages import package_names, unavailable

        # Malformed names get their own message from the content checks.
        missing = unavailable([name for name in parse_packages(field.data) if PACKAGE_NAME.fullmatch(name)])
        if missing:
            raise ValidationError(_("This server cannot serve %(names)s. It serves: %(served)s. An administrator can "
                                    "add the full Pyodide release (PYODIDE_PACKAGES_DIR, see the README).",
                                    names=", ".join(missing), served=", ".join(package_names()) or "—"))


def _number(text: str | None):
    """A typed tolerance: a number (a decimal comma too), the text itself when it is not one (refused later)."""
    if not text:
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return text


def _test_row_is_blank(entry) -> bool:
    texts = (entry.test_name.data, entry.stdin.data, entry.input.data, entry.expected_output.data)
    return not any((value or "").strip() for value in texts)


class CodingType(ExerciseType):
    name = "coding"
    label = _l("Coding")
    form_class = CodingForm
    fields_template = "exercise_types/coding_fields.html"
    preview_template = "exercise_types/coding_preview.html"
    player_template = "exercise_types/coding_player.html"

    # -- content ------------------------------------------------------------

    def _validate(self, content: dict, problems: Problems) -> dict:
        mode = content.get("mode")
        if mode not in MODES:
            problems.add(_("Choose challenge or playground."))
            mode = None
        language = content.get("language", "python")
        if language != "python":
            problems.add(_("Only Python is supported."))
        source, html = instructions_html(content, problems, MAX_INSTRUCTIONS_LENGTH)

        codes = {}
        too_long = {
            "starterCode": _("The starter code must be text of at most %(max)d characters.", max=MAX_CODE_LENGTH),
            "solutionCode": _("The solution must be text of at most %(max)d characters.", max=MAX_CODE_LENGTH),
        }
        for key, message in too_long.items():
            value = content.get(key, "")
            value = "" if value is None else value
            if not isinstance(value, str) or len(value) > MAX_CODE_LENGTH:
                problems.add(message)
                value = ""
            codes[key] = clean_text(value)

        tests = self._tests(content.get("testCases", []), problems)
        if mode == "challenge" and tests is not None and not tests:
            problems.add(_("A challenge needs at least one test."))
        tests = tests or []

        packages = content.get("requiredPackages", [])
        if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
            problems.add(_("The packages must be a list of package names."))
            packages = []
        packages = unique(clean_text(p).strip() for p in packages)
        for package in packages:
            if not PACKAGE_NAME.fullmatch(package) or len(package) > 100:
                problems.add(_("“%(name)s” is not a package name: use letters, digits, “.”, “_” and “-”.",
                               name=package[:60]))
        if len(packages) > MAX_PACKAGES:
            problems.add(_("List at most %(max)d packages.", max=MAX_PACKAGES))

        hints = content.get("hints", [])
        cleaned_hints = [text_value(h, limit=1000) for h in hints] if isinstance(hints, list) else [None]
        if any(h is None for h in cleaned_hints):
            problems.add(_("Each hint must be text of at most 1000 characters."))
            cleaned_hints = []
        hints = [h for h in cleaned_hints if h]
        if len(hints) > MAX_HINTS:
            problems.add(_("Give at most %(max)d hints.", max=MAX_HINTS))

        time_limit = content.get("timeLimit", 30)
        if not is_int(time_limit) or not 1 <= time_limit <= 300:
            problems.add(_("The time limit must be a whole number of seconds from 1 to 300."))
        output_type = content.get("outputType", "console")
        if output_type not in OUTPUT_TYPES:
            problems.add(_("Choose console, visual or automatic output."))
        criteria = content.get("completionCriteria") or DEFAULT_CRITERIA.get(mode)
        if criteria not in COMPLETION_CRITERIA:
            problems.add(_("Choose when the exercise counts as completed: all tests pass, or the code ran once."))
        elif criteria == "all_tests_pass" and not tests and mode == "playground":
            problems.add(_("Without tests, the exercise can only be completed by running the code once."))

        return {
            "mode": mode,
            "language": "python",
            "instructions": html,
            "instructionsSource": source,
            "starterCode": codes["starterCode"],
            "testCases": tests,
            "requiredPackages": packages,
            "hints": hints,
            "solutionCode": codes["solutionCode"],
            "timeLimit": time_limit,
            "maxPoints": sum(t["points"] for t in tests if is_int(t["points"])),
            "outputType": output_type,
            "completionCriteria": criteria,
        }

    def _tests(self, tests, problems: Problems) -> list[dict] | None:
        if not isinstance(tests, list):
            problems.add(_("The tests must be a list."))
            return None
        if len(tests) > MAX_TESTS:
            problems.add(_("Give at most %(max)d tests.", max=MAX_TESTS))
            return None
        result, seen = [], set()
        for n, test in enumerate(tests, start=1):
            if not isinstance(test, dict):
                problems.add(_("Test %(n)d is not a test.", n=n))
                continue
            test_id = test.get("id")
            if not isinstance(test_id, str) or not TEST_ID.fullmatch(test_id):
                problems.add(_("Test %(n)d: its id must be letters, digits, “-” or “_”.", n=n))
            elif test_id in seen:
                problems.add(_("Test %(n)d has the same id as another test (%(id)s).", n=n, id=test_id))
            seen.add(test_id if isinstance(test_id, str) else None)
            name = text_value(test.get("name"), limit=200)
            if not name:
                problems.add(_("Test %(n)d needs a name.", n=n))
            test_input, stdin = test.get("input") or "", test.get("stdin") or ""
            if not isinstance(test_input, str) or len(test_input) > MAX_TEST_TEXT:
                problems.add(_("Test %(n)d: the test code must be text of at most %(max)d characters.", n=n,
                               max=MAX_TEST_TEXT))
                test_input = ""
            if not isinstance(stdin, str) or len(stdin) > MAX_TEST_TEXT:
                problems.add(_("Test %(n)d: the input lines must be text of at most %(max)d characters.", n=n,
                               max=MAX_TEST_TEXT))
                stdin = ""
            expected = test.get("expectedOutput")
            expected = clean_text(expected) if isinstance(expected, str) else ""
            if not expected.strip():
                problems.add(_("Test %(n)d needs an expected output.", n=n))
                expected = ""
            elif len(expected) > MAX_TEST_TEXT:
                problems.add(_("Test %(n)d: the expected output must be at most %(max)d characters.", n=n,
                               max=MAX_TEST_TEXT))
            hidden = test.get("isHidden", False)
            if not isinstance(hidden, bool):
                problems.add(_("Test %(n)d: “hidden” must be yes or no.", n=n))
            points = test.get("points")
            if not is_int(points) or not 0 <= points <= MAX_TEST_POINTS:
                problems.add(_("Test %(n)d: points must be a whole number from 0 to %(max)d.", n=n,
                               max=MAX_TEST_POINTS))
                points = 0
            compare = test.get("compare") or "exact"
            if compare not in COMPARE_MODES:
                problems.add(_("Test %(n)d: choose how its output is compared.", n=n))
                compare = "exact"
            tolerance = test.get("tolerance")
            if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
                                          or not 0 <= tolerance <= MAX_TOLERANCE):
                problems.add(_("Test %(n)d: the tolerance must be a number from 0 to %(max)d.", n=n,
                               max=MAX_TOLERANCE))
                tolerance = None
            result.append({"id": test_id, "name": name, "input": clean_text(test_input),
                           "stdin": clean_text(stdin),
                           "expectedOutput": _trim_output(expected), "isHidden": hidden,
                           "points": points, "compare": compare,
                           "tolerance": tolerance if compare == "numbers" else None})
        return result

    # -- form ---------------------------------------------------------------

    def content_from_form(self, form) -> dict:
        entries = [entry.form for entry in form.test_cases.entries if not _test_row_is_blank(entry.form)]
        taken = {entry.tid.data for entry in entries if entry.tid.data}
        tests = []
        for number, entry in enumerate(entries, start=1):
            test_id = entry.tid.data
            if not test_id or not TEST_ID.fullmatch(test_id) or any(t["id"] == test_id for t in tests):
                test_id = next_id("tc", taken)
                taken.add(test_id)
            tests.append({"id": test_id, "name": entry.test_name.data or _("Test %(n)d", n=number),
                          "input": entry.input.data or "", "stdin": entry.stdin.data or "",
                          "expectedOutput": entry.expected_output.data or "",
                          "isHidden": bool(entry.is_hidden.data), "points": entry.points.data,
                          "compare": entry.compare.data or "exact", "tolerance": _number(entry.tolerance.data)})
        return self.validate({
            "mode": form.mode.data,
            "language": "python",
            "instructionsSource": form.instructions.data or "",
            "starterCode": form.starter_code.data or "",
            "solutionCode": form.solution_code.data or "",
            "testCases": tests,
            "requiredPackages": parse_packages(form.required_packages.data),
            "hints": non_empty_lines(form.hints.data),
            "timeLimit": form.time_limit.data,
            "outputType": form.output_type.data,
            "completionCriteria": form.completion_criteria.data or None,
        })

    def form_data(self, content: dict) -> dict:
        tests = [t for t in content.get("testCases") or [] if isinstance(t, dict)]
        packages = content.get("requiredPackages") if isinstance(content.get("requiredPackages"), list) else []
        hints = content.get("hints") if isinstance(content.get("hints"), list) else []
        return {
            "mode": content.get("mode"),
            "instructions": content.get("instructionsSource") or "",
            "starter_code": content.get("starterCode") or "",
            "solution_code": content.get("solutionCode") or "",
            "test_cases": [{"tid": t.get("id") or "", "test_name": t.get("name") or "",
                            "input": t.get("input") or "", "stdin": t.get("stdin") or "",
                            "expected_output": t.get("expectedOutput") or "", "is_hidden": t.get("isHidden") is True,
                            "points": t.get("points"), "compare": t.get("compare") or "exact",
                            "tolerance": "" if t.get("tolerance") is None else str(t.get("tolerance"))}
                           for t in tests],
            "required_packages": ", ".join(p for p in packages if isinstance(p, str)),
            "hints": "\n".join(h for h in hints if isinstance(h, str)),
            "time_limit": content.get("timeLimit", 30),
            "output_type": content.get("outputType", "console"),
            "completion_criteria": content.get("completionCriteria") or "",
        }

    # -- grading and the coding page: the content keys are read here only -----

    def grading_tests(self, content: dict) -> list[GradingTest]:
        """Every test, hidden ones included, in order (the server's grading only)."""
        return [GradingTest(id=t.get("id"), name=t.get("name"), stdin=t.get("stdin") or "",
                            code=t.get("input") or "", expected=t.get("expectedOutput") or "",
                            hidden=bool(t.get("isHidden")), points=t.get("points") or 0,
                            compare=t.get("compare") or "exact", tolerance=t.get("tolerance"))
                for t in content.get("testCases") or [] if isinstance(t, dict)]

    def time_limit(self, content: dict) -> float:
        return float(content.get("timeLimit") or 30)

    def packages(self, content: dict) -> list[str]:
        return list(content.get("requiredPackages") or [])

    def completed_when_ran(self, content: dict) -> bool:
        """True when running once completes it (a playground); otherwise every test must pass."""
        return content.get("completionCriteria") == "run_once"

    def solution(self, content: dict) -> str:
        return content.get("solutionCode") or ""

    def page_data(self, content: dict) -> dict:
        """What the coding page may know: never the hidden tests nor the solution."""
        tests = self.grading_tests(content)
        return {"mode": content.get("mode"), "starterCode": content.get("starterCode") or "",
                "tests": [{"name": t.name, "stdin": t.stdin, "input": t.code, "expectedOutput": t.expected,
                           "compare": t.compare, "tolerance": t.tolerance} for t in tests if not t.hidden],
                "hiddenTests": sum(1 for t in tests if t.hidden), "packages": self.packages(content),
                "timeLimit": content.get("timeLimit") or 30, "runOnce": self.completed_when_ran(content),
                "hints": content.get("hints") or [], "outputType": content.get("outputType") or "console"}

    def handle_row_action(self, form) -> bool:
        def new_test(form):
            return {"tid": next_id("tc", {e.form.tid.data for e in form.test_cases.entries}), "points": 10}

        return apply_row_action(form, form.test_cases, new_test)
