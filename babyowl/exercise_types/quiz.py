"""Quizzes: single choice, multiple choice, true/false and short-answer questions.

In the form, a choice question's options are one per line with the correct
ones marked by a leading "*" (as in Moodle's Aiken and GIFT formats):

    * 5
    23
    Error

A line that really starts with "*" is written "\\*"; a line starting with a
backslash, "\\\\".
"""
from __future__ import annotations

import random
import re
import string
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, TextAreaField

from babyowl.exercise_types.base import (
    ExerciseForm, ExerciseType, InvalidContent, Problems, RowsMixin, StudentWork, apply_row_action, choice, is_int,
    next_id, non_empty_lines, normalise_newlines, text_value, unique, whole_number,
)
from babyowl.validators import max_length, strip

QUESTION_TYPES = ("single_choice", "multiple_choice", "true_false", "short_answer")
CHOICE_TYPES = ("single_choice", "multiple_choice")
MIN_OPTIONS, MAX_OPTIONS = 2, 10
MAX_ANSWERS = 20
MAX_QUESTIONS = 100
MAX_POINTS = 1000
ITEM_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def option_ids(count: int) -> list[str]:
    letters = string.ascii_lowercase
    return [letters[i] if i < len(letters) else f"o{i + 1}" for i in range(count)]


def parse_options(text: str | None) -> tuple[list[dict], list[str]]:
    """Option lines → (options, correct option ids). "*" marks a correct option."""
    parsed = []
    for line in non_empty_lines(text):
        correct = False
        if line.startswith("*"):
            correct, line = True, line[1:].strip()
        if line.startswith("\\"):
            line = line[1:]
        if line:
            parsed.append((line, correct))
    ids = option_ids(len(parsed))
    options = [{"id": option_id, "text": text} for option_id, (text, _correct) in zip(ids, parsed)]
    return options, [option_id for option_id, (_text, correct) in zip(ids, parsed) if correct]


def format_options(options: list, correct: list) -> str:
    lines = []
    for option in options:
        if not isinstance(option, dict) or not isinstance(option.get("text"), str):
            continue
        text = option["text"]
        if text.startswith(("*", "\\")):
            text = "\\" + text
        lines.append(("* " if option.get("id") in correct else "") + text)
    return "\n".join(lines)


class QuestionForm(Form):
    qid = HiddenField()
    kind = choice(_l("Question type"), [
        ("single_choice", _l("Single choice")),
        ("multiple_choice", _l("Multiple choice")),
        ("true_false", _l("True or false")),
        ("short_answer", _l("Short answer")),
    ], default="single_choice")
    text = TextAreaField(_l("Question"), filters=[strip, normalise_newlines], validators=[max_length(5000)])
    options = TextAreaField(_l("Options"), filters=[normalise_newlines], validators=[max_length(10000)],
                            description=_l("Single or multiple choice: one option per line; "
                                           "start the correct ones with *."))
    true_false = choice(_l("Correct answer"), [("", _l("Choose…")), ("true", _l("True")), ("false", _l("False"))],
                        default="", description=_l("True or false questions only."))
    answers = TextAreaField(_l("Accepted answers"), filters=[normalise_newlines], validators=[max_length(10000)],
                            description=_l("Short answer only: one accepted answer per line."))
    # Not required here: an empty row is left out; a filled row without points is refused by validate().
    points = whole_number(_l("Points"), minimum=1, maximum=MAX_POINTS, default=1)
    explanation = TextAreaField(_l("Explanation"), filters=[strip, normalise_newlines],
                                validators=[max_length(5000)],
                                description=_l("Shown to students after they answer (optional)."))


class QuizForm(RowsMixin, ExerciseForm):
    passing_score = whole_number(_l("Passing score (%)"), minimum=0, maximum=100, is_required=True, default=70)
    attempts_allowed = whole_number(_l("Attempts allowed"), minimum=1, maximum=100,
                                    description=_l("Leave empty for unlimited attempts."))
    shuffle = BooleanField(_l("Shuffle the questions and options for each attempt"))
    questions = FieldList(FormField(QuestionForm), min_entries=1, max_entries=MAX_QUESTIONS)


def _question_is_blank(entry) -> bool:
    """A row added with "Add a question" and left empty is not a question."""
    texts = (entry.text.data, entry.options.data, entry.answers.data, entry.explanation.data)
    return not any((value or "").strip() for value in texts) and not entry.true_false.data


class QuizType(ExerciseType):
    name = "quiz"
    work_needed = ("quiz_attempts",)
    label = _l("Quiz")
    form_class = QuizForm
    fields_template = "exercise_types/quiz_fields.html"
    preview_template = "exercise_types/quiz_preview.html"
    player_template = "exercise_types/quiz_player.html"
    progress_section = "quizzes"

    # -- content ------------------------------------------------------------

    def _validate(self, content: dict, problems: Problems) -> dict:
        passing = content.get("passingScore")
        if not is_int(passing) or not 0 <= passing <= 100:
            problems.add(_("The passing score must be a whole number from 0 to 100."))
        attempts = content.get("attemptsAllowed")
        if attempts is not None and (not is_int(attempts) or not 1 <= attempts <= 100):
            problems.add(_("Attempts allowed must be a whole number from 1 to 100, or empty for unlimited."))
        shuffle = content.get("shuffle", False)
        if not isinstance(shuffle, bool):
            problems.add(_("“Shuffle” must be yes or no."))

        questions = content.get("questions")
        result_questions = []
        if not isinstance(questions, list) or not questions:
            problems.add(_("Add at least one question."))
        elif len(questions) > MAX_QUESTIONS:
            problems.add(_("A quiz can have at most %(max)d questions.", max=MAX_QUESTIONS))
        else:
            seen_ids = set()
            for number, question in enumerate(questions, start=1):
                checked = self._question(number, question, problems)
                qid = question.get("id") if isinstance(question, dict) else None
                if isinstance(qid, str) and ITEM_ID.fullmatch(qid):
                    if qid in seen_ids:
                        problems.add(_("Question %(n)d: another question has the same id (%(id)s).", n=number,
                                       id=qid))
                    seen_ids.add(qid)
                if checked is not None:
                    result_questions.append(checked)
        return {"passingScore": passing, "attemptsAllowed": attempts, "shuffle": shuffle,
                "questions": result_questions}

    def _question(self, n: int, question, problems: Problems) -> dict | None:
        if not isinstance(question, dict):
            problems.add(_("Question %(n)d is not a question.", n=n))
            return None
        before = len(problems.messages)
        qid = question.get("id")
        if not isinstance(qid, str) or not ITEM_ID.fullmatch(qid):
            problems.add(_("Question %(n)d: its id must be letters, digits, “-” or “_”.", n=n))
        qtype = question.get("type")
        if qtype not in QUESTION_TYPES:
            problems.add(_("Question %(n)d: choose a question type.", n=n))
        text = text_value(question.get("text"), limit=5000)
        if not text:
            problems.add(_("Question %(n)d: write the question.", n=n))
        points = question.get("points", 1)
        if not is_int(points) or not 1 <= points <= MAX_POINTS:
            problems.add(_("Question %(n)d: points must be a whole number from 1 to %(max)d.", n=n, max=MAX_POINTS))
        explanation = question.get("explanation", "")
        explanation = "" if explanation is None else text_value(explanation, limit=5000)
        if explanation is None:
            problems.add(_("Question %(n)d: the explanation must be text of at most 5000 characters.", n=n))

        result = {"id": qid, "type": qtype, "text": text, "points": points, "explanation": explanation}
        correct = question.get("correct")
        if qtype in CHOICE_TYPES:
            options = self._options(n, question.get("options"), problems)
            ids = [option["id"] for option in options]
            if not isinstance(correct, list) or not all(isinstance(c, str) for c in correct):
                correct = []
            correct = unique(correct)
            # Without usable options (already reported) the correct answers cannot be checked.
            if options and any(c not in ids for c in correct):
                problems.add(_("Question %(n)d: a correct answer is not one of the options.", n=n))
            elif options and not correct:
                problems.add(_("Question %(n)d: mark the correct option.", n=n) if qtype == "single_choice"
                             else _("Question %(n)d: mark at least one correct option.", n=n))
            elif options and qtype == "single_choice" and len(correct) > 1:
                problems.add(_("Question %(n)d: mark only one correct option.", n=n))
            result["options"] = options
            result["correct"] = [i for i in ids if i in correct]
        elif qtype == "true_false":
            if not isinstance(correct, list) or len(correct) != 1 or not isinstance(correct[0], bool):
                problems.add(_("Question %(n)d: choose whether the statement is true or false.", n=n))
            result["correct"] = correct
        elif qtype == "short_answer":
            answers = []
            if isinstance(correct, list):
                answers = [text_value(a, limit=500) for a in correct]
            if not isinstance(correct, list) or any(a is None for a in answers):
                problems.add(_("Question %(n)d: the accepted answers must be texts of at most 500 characters.",
                               n=n))
                answers = []
            else:
                answers = unique(a for a in answers if a)
                if not answers:
                    problems.add(_("Question %(n)d: give at least one accepted answer.", n=n))
                elif len(answers) > MAX_ANSWERS:
                    problems.add(_("Question %(n)d: give at most %(max)d accepted answers.", n=n, max=MAX_ANSWERS))
            result["correct"] = answers
        return result if len(problems.messages) == before else None

    def _options(self, n: int, options, problems: Problems) -> list[dict]:
        if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
            problems.add(_("Question %(n)d: give between %(min)d and %(max)d options.", n=n, min=MIN_OPTIONS,
                           max=MAX_OPTIONS))
            return []
        result = []
        for option in options:
            option_id = option.get("id")
            text = text_value(option.get("text"), limit=1000)
            if not isinstance(option_id, str) or not ITEM_ID.fullmatch(option_id):
                problems.add(_("Question %(n)d: an option has no valid id.", n=n))
                return []
            if not text:
                problems.add(_("Question %(n)d: every option needs a text of at most 1000 characters.", n=n))
                return []
            result.append({"id": option_id, "text": text})
        if not MIN_OPTIONS <= len(result) <= MAX_OPTIONS:
            problems.add(_("Question %(n)d: give between %(min)d and %(max)d options.", n=n, min=MIN_OPTIONS,
                           max=MAX_OPTIONS))
            return []
        if len({o["id"] for o in result}) != len(result):
            problems.add(_("Question %(n)d: two options have the same id.", n=n))
            return []
        if len({o["text"] for o in result}) != len(result):
            problems.add(_("Question %(n)d: two options have the same text.", n=n))
            return []
        return result

    # -- form ---------------------------------------------------------------

    def content_from_form(self, form) -> dict:
        entries = [entry.form for entry in form.questions.entries if not _question_is_blank(entry.form)]
        taken = {entry.qid.data for entry in entries if entry.qid.data}
        questions = []
        for entry in entries:
            qid = entry.qid.data
            if not qid or not ITEM_ID.fullmatch(qid) or any(q["id"] == qid for q in questions):
                qid = next_id("q", taken)
                taken.add(qid)
            question = {"id": qid, "type": entry.kind.data, "text": entry.text.data or "",
                        "points": entry.points.data, "explanation": entry.explanation.data or ""}
            if entry.kind.data in CHOICE_TYPES:
                question["options"], question["correct"] = parse_options(entry.options.data)
            elif entry.kind.data == "true_false":
                question["correct"] = {"true": [True], "false": [False]}.get(entry.true_false.data, [])
            else:
                question["correct"] = non_empty_lines(entry.answers.data)
            questions.append(question)
        if not questions:
            raise InvalidContent([_("Add at least one question.")])
        return self.validate({
            "passingScore": form.passing_score.data,
            "attemptsAllowed": form.attempts_allowed.data,
            "shuffle": bool(form.shuffle.data),
            "questions": questions,
        })

    def form_data(self, content: dict) -> dict:
        questions = []
        for question in content.get("questions") or []:
            if not isinstance(question, dict):
                continue
            correct = question.get("correct") if isinstance(question.get("correct"), list) else []
            qtype = question.get("type")
            questions.append({
                "qid": question.get("id") or "",
                "kind": qtype,
                "text": question.get("text") or "",
                "options": format_options(question.get("options") or [], correct) if qtype in CHOICE_TYPES else "",
                "true_false": ({True: "true", False: "false"}.get(correct[0], "")
                               if qtype == "true_false" and correct and isinstance(correct[0], bool) else ""),
                "answers": "\n".join(a for a in correct if isinstance(a, str)) if qtype == "short_answer" else "",
                "points": question.get("points", 1),
                "explanation": question.get("explanation") or "",
            })
        return {
            "passing_score": content.get("passingScore"),
            "attempts_allowed": content.get("attemptsAllowed"),
            "shuffle": content.get("shuffle") is True,
            "questions": questions,
        }

    def handle_row_action(self, form) -> bool:
        def new_question(form):
            return {"qid": next_id("q", {e.form.qid.data for e in form.questions.entries}), "points": 1,
                    "kind": "single_choice"}

        return apply_row_action(form, form.questions, new_question)


    # -- the lesson player ----------------------------------------------------

    def player_panel(self, exercise, work: StudentWork, review_attempt: uuid.UUID | None = None) -> QuizPanel:
        tried = work.quiz_attempts.get(exercise.id, [])
        content = exercise.content
        panel = QuizPanel(
            questions=self.questions_for_student(content, quiz_seed(work.student_id, exercise.id, len(tried) + 1)),
            attempts=tried, allowed=content.get("attemptsAllowed"),
            passed=any(self.passed(content, a.score, a.max_score) for a in tried))
        reviewed = next((a for a in tried if a.id == review_attempt), None) if review_attempt else None
        if reviewed is not None:
            panel.review, panel.last = self.review(content, reviewed.answers), reviewed
        return panel

    def progress_line(self, exercise, work: StudentWork) -> QuizLine:
        tried = work.quiz_attempts.get(exercise.id, [])
        best = best_attempt(tried)
        return QuizLine(exercise, best, len(tried),
                        best is not None and self.passed(exercise.content, best.score, best.max_score))

    # -- taking the quiz ------------------------------------------------------
    # Students only ever receive `questions_for_student` and `review`: neither
    # carries the correct answers, so no page can leak them.

    def questions_for_student(self, content: dict, seed: str | None = None) -> list[dict]:
        """The questions without correct answers or explanations, shuffled by `seed` if the quiz asks for it.

        The same seed gives the same order, so reloading the page keeps it.
        """
        questions = [{"id": q["id"], "type": q["type"], "text": q["text"], "points": q["points"],
                      "options": [{"id": o["id"], "text": o["text"]} for o in q.get("options") or []]}
                     for q in content.get("questions") or []]
        if content.get("shuffle") and seed is not None:
            shuffler = random.Random(seed)
            shuffler.shuffle(questions)
            for question in questions:
                shuffler.shuffle(question["options"])
        return questions

    def score(self, content: dict, answers: dict[str, list[str]]) -> QuizScore:
        """Score what a student sent, against the stored content only.

        `answers` maps question ids to the values sent; ids of other questions,
        values that are no option of the question and extra values are ignored
        (and so earn nothing).
        """
        result = QuizScore()
        for question in content.get("questions") or []:
            given = _clean_answer(question, answers.get(question["id"]) or [])
            correct = _is_correct(question, given)
            earned = question["points"] if correct else 0
            result.max_score += question["points"]
            result.score += earned
            result.answers[question["id"]] = {"given": given, "correct": correct, "earned": earned}
            if given:
                result.answered += 1
        result.passed = self.passed(content, result.score, result.max_score)
        return result

    def passed(self, content: dict, score: int, max_score: int) -> bool:
        return max_score > 0 and score * 100 >= content.get("passingScore", 100) * max_score

    def review(self, content: dict, stored: dict) -> list[dict]:
        """Per-question feedback for a stored attempt: what was given, right or wrong, the explanation."""
        rows = []
        for question in content.get("questions") or []:
            answer = stored.get(question["id"]) if isinstance(stored, dict) else None
            answer = answer if isinstance(answer, dict) else {}
            given = answer.get("given") if isinstance(answer.get("given"), list) else []
            texts = {o["id"]: o["text"] for o in question.get("options") or []}
            if question["type"] in CHOICE_TYPES:
                shown = [texts[g] for g in given if g in texts]
            elif question["type"] == "true_false":
                shown = [_("True") if g == "true" else _("False") for g in given]
            else:
                shown = [g for g in given if isinstance(g, str)]
            rows.append({"id": question["id"], "text": question["text"], "points": question["points"],
                         "earned": answer.get("earned", 0), "correct": answer.get("correct") is True,
                         "given": shown, "explanation": question.get("explanation") or ""})
        return rows


@dataclass
class QuizScore:
    score: int = 0
    max_score: int = 0
    answered: int = 0
    passed: bool = False
    answers: dict = field(default_factory=dict)

    @property
    def percent(self) -> int:
        return self.score * 100 // self.max_score if self.max_score else 0


MAX_SHORT_ANSWER = 500


def _clean_answer(question: dict, values: list) -> list[str]:
    values = [v for v in values if isinstance(v, str)]
    if question["type"] in CHOICE_TYPES:
        ids = [o["id"] for o in question.get("options") or []]
        return [i for i in ids if i in values]
    if question["type"] == "true_false":
        return unique(v for v in values if v in ("true", "false"))[:2]
    text = next((v.strip() for v in values if v.strip()), "")
    return [text[:MAX_SHORT_ANSWER]] if text else []


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _is_correct(question: dict, given: list[str]) -> bool:
    correct = question.get("correct") or []
    if question["type"] == "single_choice":
        return len(given) == 1 and given == correct
    if question["type"] == "multiple_choice":
        return bool(given) and set(given) == set(correct)
    if question["type"] == "true_false":
        return len(given) == 1 and bool(correct) and (given[0] == "true") is correct[0]
    return len(given) == 1 and _normal(given[0]) in {_normal(a) for a in correct}


def quiz_seed(student_id: uuid.UUID, exercise_id: uuid.UUID, attempt_number: int) -> str:
    """The shuffle of one attempt: the same on every reload, another on the next attempt."""
    return f"{student_id}:{exercise_id}:{attempt_number}"


def best_attempt(attempts: list) -> Any:
    """The highest share of the points (a quiz may have been edited between attempts); the earliest on a tie."""
    return max(attempts, key=lambda a: (a.score / a.max_score if a.max_score else 0, -a.attempt_number),
               default=None)


@dataclass
class QuizPanel:
    """The quiz in the lesson player: questions without answers, the attempts made, the feedback on one."""
    questions: list[dict]
    attempts: list          # QuizAttempt rows, oldest first
    allowed: int | None
    passed: bool
    review: list[dict] | None = None  # feedback on the attempt just made (or asked for)
    last: Any = None

    @property
    def best(self):
        return best_attempt(self.attempts)

    @property
    def attempts_left(self) -> int | None:
        return None if self.allowed is None else max(0, self.allowed - len(self.attempts))

    @property
    def can_attempt(self) -> bool:
        return self.attempts_left is None or self.attempts_left > 0


@dataclass
class QuizLine:
    """A quiz on the student's progress page."""
    exercise: Any
    best: Any         # the best QuizAttempt, or None
    attempts: int
    passed: bool
