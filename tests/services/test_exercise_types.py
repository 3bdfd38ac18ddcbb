"""Exercise types: forms → content, content validation, row buttons, previews, demo content.

Forms are filled the way a browser would: posted in a request context, and
for the round trips, read back from the rendered fields template.
"""
from __future__ import annotations

import copy
import io
import random
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import render_template
from werkzeug.datastructures import MultiDict

from babyowl.exercise_types import REGISTRY, ExerciseForm, ExerciseType, InvalidContent, get_type
from babyowl.exercise_types.quiz import format_options, parse_options
from babyowl.exercise_types.richtext import render_markdown, sanitize_html
from babyowl.exercise_types.video import parse_video_url, sign_file_key
from babyowl.services.errors import InvalidInput
from babyowl.storage import get_storage

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
WEBM_HEAD = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01"
OGG_HEAD = b"OggS\x00\x02" + b"\x00" * 20


# ---------------------------------------------------------------------------
# helpers

def _base(**data) -> dict:
    return {"title": "Exercise", "estimated_duration": "", **data}


def submit(app, kind: str, data, files: dict | None = None):
    """Post `data` (and files) to the type's form in a pushed request context: (context, form, is valid)."""
    exercise_type = get_type(kind)
    payload = MultiDict(data)
    for name, (content, filename) in (files or {}).items():
        payload.add(name, (io.BytesIO(content), filename))
    ctx = app.test_request_context(method="POST", data=payload)
    ctx.push()
    try:
        form = exercise_type.form_class()
        valid = form.validate()
    except Exception:
        ctx.pop()
        raise
    return ctx, form, valid


@pytest.fixture
def post(app):
    """post(kind, data, files) → the form, validated, inside a live request context."""
    contexts = []

    def do(kind, data, files=None):
        ctx, form, valid = submit(app, kind, data, files)
        contexts.append(ctx)
        form.is_valid = valid
        return form

    yield do
    for ctx in reversed(contexts):
        ctx.pop()


def content_of(post, kind, data, files=None) -> dict:
    form = post(kind, data, files)
    assert form.is_valid, form.errors
    return get_type(kind).content_from_form(form)


def refused(post, kind, data, files=None) -> list[str]:
    form = post(kind, data, files)
    assert form.is_valid, form.errors
    with pytest.raises(InvalidContent) as caught:
        get_type(kind).content_from_form(form)
    return caught.value.messages


def stored_files(app) -> list[Path]:
    root = Path(app.config["STORAGE_DIR"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


class FormReader(HTMLParser):
    """Reads the controls of rendered HTML the way a browser submits them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pairs: list[tuple[str, str]] = []
        self._textarea = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.pairs.append((name, a.get("value") or "on"))
            else:
                self.pairs.append((name, a.get("value") or ""))
        elif tag == "textarea":
            self._textarea = [name, ""]
        elif tag == "select":
            self._select = {"name": name, "first": None, "selected": None}
        elif tag == "option" and self._select is not None:
            if self._select["first"] is None:
                self._select["first"] = a.get("value", "")
            if "selected" in a:
                self._select["selected"] = a.get("value", "")

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            name, value = self._textarea
            # Browsers drop the newline right after <textarea>.
            if value.startswith("\r\n"):
                value = value[2:]
            elif value.startswith("\n"):
                value = value[1:]
            self.pairs.append((name, value))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = self._select["selected"]
            self.pairs.append((self._select["name"], chosen if chosen is not None else self._select["first"] or ""))
            self._select = None


def rendered_pairs(app, kind: str, content: dict) -> list[tuple[str, str]]:
    """What a browser would post back from the edit form of `content`, untouched."""
    exercise_type = get_type(kind)
    with app.test_request_context():
        form = exercise_type.form_class(data={**exercise_type.form_data(content), "title": "Round trip"})
        html = render_template(exercise_type.fields_template, form=form)
    reader = FormReader()
    reader.feed(html)
    return [("title", "Round trip"), *reader.pairs]


def preview(app, kind: str, content: dict) -> str:
    with app.test_request_context():
        return render_template(get_type(kind).preview_template, exercise=SimpleNamespace(title="Preview"),
                               content=content)


# Valid contents of every type (normalised), used for round trips and fuzzing.
VALID = {
    "video": {"source": "url", "provider": "vimeo", "url": "https://vimeo.com/76979871", "videoId": "76979871",
              "fileKey": None, "duration": 125, "allowManualComplete": False},
    "material": {"format": "markdown", "source": "# Judul\n\nTeks **tebal**.\n\n| a | b |\n|---|---|\n| 1 | 2 |",
                 "html": ""},
    "quiz": {"passingScore": 60, "attemptsAllowed": None, "shuffle": True, "questions": [
        {"id": "q1", "type": "single_choice", "text": "2 + 3?", "options": [
            {"id": "a", "text": "5"}, {"id": "b", "text": "*23"}, {"id": "c", "text": "\\n"}],
         "correct": ["a"], "points": 2, "explanation": "Penjumlahan."},
        {"id": "q2", "type": "multiple_choice", "text": "Tipe bawaan?", "options": [
            {"id": "a", "text": "int"}, {"id": "b", "text": "str"}, {"id": "c", "text": "angka"}],
         "correct": ["a", "b"], "points": 1, "explanation": ""},
        {"id": "q7", "type": "true_false", "text": "Python peka huruf besar.", "correct": [False], "points": 1,
         "explanation": ""},
        {"id": "q4", "type": "short_answer", "text": "Fungsi cetak?", "correct": ["print", "print()"], "points": 3,
         "explanation": "print()"},
    ]},
    "assignment": {"instructions": "", "instructionsSource": "Kerjakan *soal* ini.",
                   "submissionTypes": ["file", "link"], "allowedFileTypes": [".py", ".zip"], "maxFileSizeMb": 20,
                   "maxGrade": 50, "dueOffsetDays": None},
    "coding": {"mode": "challenge", "language": "python", "instructions": "",
               "instructionsSource": "Tulis `kali(a, b)`.", "starterCode": "def kali(a, b):\n    pass\n",
               "testCases": [
                   {"id": "tc1", "name": "Dasar", "input": "print(kali(5, 3))", "expectedOutput": "15",
                    "isHidden": False, "points": 10},
                   {"id": "tc2", "name": "Rahasia", "input": "print(kali(-2, 4))", "expectedOutput": "-8",
                    "isHidden": True, "points": 5}],
               "requiredPackages": ["numpy"], "hints": ["Pakai *", "Kembalikan hasil"],
               "solutionCode": "def kali(a, b):\n    return a * b  # SOLUTION\n", "timeLimit": 10, "maxPoints": 0,
               "outputType": "console", "completionCriteria": "all_tests_pass"},
}


def valid(app, kind):
    with app.app_context():
        return get_type(kind).validate(copy.deepcopy(VALID[kind]))


# ---------------------------------------------------------------------------
# registry

def test_registry_holds_the_five_types_in_order(app):
    assert list(REGISTRY) == ["video", "material", "quiz", "assignment", "coding"]
    for name, exercise_type in REGISTRY.items():
        assert isinstance(exercise_type, ExerciseType)
        assert exercise_type.name == name
        assert get_type(name) is exercise_type
        assert issubclass(exercise_type.form_class, ExerciseForm)
        assert str(exercise_type.label)
        app.jinja_env.get_template(exercise_type.fields_template)
        app.jinja_env.get_template(exercise_type.preview_template)
    with pytest.raises(KeyError):
        get_type("essay")


def test_invalid_content_is_an_invalid_input_with_every_message():
    error = InvalidContent(["One.", "Two."])
    assert isinstance(error, InvalidInput)
    assert error.status_code == 422
    assert error.messages == ["One.", "Two."]
    assert error.message == str(error) == "One. Two."


def test_base_form_checks_title_and_duration_with_our_messages(post):
    form = post("material", {"title": "", "estimated_duration": "lama", "format": "markdown", "body": "x"})
    assert not form.is_valid
    assert form.title.errors == ["This field is required."]
    assert form.estimated_duration.errors == ["Enter a whole number."]
    form = post("material", _base(estimated_duration="601", format="nope", body="x"))
    assert form.estimated_duration.errors == ["Enter a whole number from 0 to 600."]
    assert form.format.errors == ["Choose one of the options."]
    form = post("material", _base(title="x" * 256, body="x"))
    assert form.title.errors == ["Use at most 255 characters."]


# ---------------------------------------------------------------------------
# video

@pytest.mark.parametrize("url, provider, video_id", [
    ("https://www.youtube.com/watch?v=kqtD5dpn9C8", "youtube", "kqtD5dpn9C8"),
    ("https://youtube.com/watch?v=kqtD5dpn9C8&t=42s", "youtube", "kqtD5dpn9C8"),
    ("http://m.youtube.com/watch?v=kqtD5dpn9C8", "youtube", "kqtD5dpn9C8"),
    ("https://youtu.be/kqtD5dpn9C8?si=abc", "youtube", "kqtD5dpn9C8"),
    ("https://www.youtube.com/embed/kqtD5dpn9C8", "youtube", "kqtD5dpn9C8"),
    ("https://www.youtube.com/shorts/a_b-C1d2E3f", "youtube", "a_b-C1d2E3f"),
    ("https://vimeo.com/76979871", "vimeo", "76979871"),
    ("https://player.vimeo.com/video/76979871?h=abc", "vimeo", "76979871"),
])
def test_video_links_that_are_accepted(url, provider, video_id):
    assert parse_video_url(url) == (provider, video_id)


@pytest.mark.parametrize("url", [
    "https://example.com/watch?v=kqtD5dpn9C8",
    "https://youtube.com.evil.example/watch?v=kqtD5dpn9C8",
    "https://www.youtube.com/watch?v=short",
    "https://www.youtube.com/watch",
    "https://www.youtube.com/playlist?list=PL123",
    "https://vimeo.com/channels/staffpicks",
    "https://player.vimeo.com/76979871",
    "javascript:alert(1)//youtube.com/watch?v=kqtD5dpn9C8",
    "ftp://youtu.be/kqtD5dpn9C8",
    "youtu.be/kqtD5dpn9C8",
    "https://[::1/",
    "",
])
def test_video_links_that_are_refused(url):
    assert parse_video_url(url) is None


def test_video_form_with_a_link(post):
    content = content_of(post, "video", _base(url=" https://youtu.be/kqtD5dpn9C8 ", duration_minutes="6",
                                               duration_seconds="5", allow_manual_complete="y"))
    assert content == {"source": "url", "provider": "youtube", "url": "https://www.youtube.com/watch?v=kqtD5dpn9C8",
                       "videoId": "kqtD5dpn9C8", "fileKey": None, "duration": 365, "allowManualComplete": True}
    assert get_type("video").stored_keys(content) == []


def test_video_link_from_an_unknown_site_is_refused(post, app):
    messages = refused(post, "video", _base(url="https://example.com/video.mp4", duration_minutes="3"))
    assert messages == ["Use a YouTube or Vimeo link, or upload a video file."]
    assert stored_files(app) == []


def test_video_needs_a_link_or_a_file_and_a_length(post):
    assert refused(post, "video", _base(duration_minutes="3")) == ["Add a video link or upload a video file."]
    assert refused(post, "video", _base(url="https://vimeo.com/1")) == [
        "Give the video's length: more than 0 seconds and at most 24 hours."]
    form = post("video", _base(url="https://vimeo.com/1", duration_seconds="75"))
    assert form.duration_seconds.errors == ["Enter a whole number from 0 to 59."]


def test_uploaded_video_is_checked_then_stored(post, app):
    content = content_of(post, "video", _base(duration_minutes="1", duration_seconds="1"),
                         {"file": (MP4_HEAD + b"\x00" * 500, "Pelajaran 1.MP4")})
    key = content["fileKey"]
    assert content == {"source": "file", "provider": "file", "url": None, "videoId": None, "fileKey": key,
                       "duration": 61, "allowManualComplete": False}
    assert key.startswith("videos/") and key.endswith(".mp4")
    data, content_type = get_storage().read(key)
    assert data.startswith(MP4_HEAD) and len(data) == len(MP4_HEAD) + 500
    assert content_type == "video/mp4"
    assert get_type("video").stored_keys(content) == [key]


@pytest.mark.parametrize("head, filename, content_type", [
    (WEBM_HEAD, "clip.webm", "video/webm"), (OGG_HEAD, "clip.ogv", "video/ogg")])
def test_webm_and_ogg_uploads(post, head, filename, content_type):
    content = content_of(post, "video", _base(duration_seconds="30"), {"file": (head + b"\x00" * 10, filename)})
    assert get_storage().read(content["fileKey"])[1] == content_type


def test_link_and_file_together_are_refused_and_nothing_is_stored(post, app):
    messages = refused(post, "video", _base(url="https://youtu.be/kqtD5dpn9C8", duration_minutes="2"),
                       {"file": (MP4_HEAD, "a.mp4")})
    assert messages == ["Give either a video link or a video file, not both."]
    assert stored_files(app) == []


def test_oversized_video_is_refused(make_app):
    app = make_app(VIDEO_MAX_MB=1)
    with app.test_request_context(method="POST", data={
            **_base(duration_minutes="2"), "file": (io.BytesIO(MP4_HEAD + b"\x00" * (1024 * 1024)), "big.mp4")}):
        form = get_type("video").form_class()
        assert form.validate(), form.errors
        with pytest.raises(InvalidContent) as caught:
            get_type("video").content_from_form(form)
    assert caught.value.messages == ["The video is larger than 1 MB."]
    assert stored_files(app) == []


@pytest.mark.parametrize("data, filename, message", [
    (b"just some text, not a video", "lesson.mp4", "This file is not an MP4, WebM or Ogg video."),
    (OGG_HEAD, "lesson.mp4", "This file is not an MP4, WebM or Ogg video."),
    (b"", "empty.webm", "This file is not an MP4, WebM or Ogg video."),
    (MP4_HEAD, "lesson.exe", "Upload an MP4, WebM or Ogg video (.mp4, .webm or .ogv)."),
    (MP4_HEAD, "lesson", "Upload an MP4, WebM or Ogg video (.mp4, .webm or .ogv)."),
])
def test_files_that_are_not_videos_are_refused(post, app, data, filename, message):
    assert refused(post, "video", _base(duration_minutes="2"), {"file": (data, filename)}) == [message]
    assert stored_files(app) == []


def test_editing_a_file_video_without_a_new_file_keeps_the_stored_file(post, app):
    first = content_of(post, "video", _base(duration_minutes="4"), {"file": (MP4_HEAD, "a.mp4")})
    pairs = rendered_pairs(app, "video", first)
    assert ("current_file", "") not in pairs
    kept = content_of(post, "video", pairs)
    assert kept == first
    assert len(stored_files(app)) == 2  # the video and its content-type sidecar, once


def test_a_forged_current_file_is_ignored(post, app):
    messages = refused(post, "video", _base(duration_minutes="4", current_file="videos/0123abcd.mp4"))
    assert messages == ["Add a video link or upload a video file."]
    with app.test_request_context():
        not_a_video = sign_file_key("submissions/12/essay.pdf")
    assert refused(post, "video", _base(duration_minutes="4", current_file=not_a_video)) == [
        "Add a video link or upload a video file."]


def test_video_estimated_minutes_come_from_its_length(app):
    video = get_type("video")
    assert video.estimated_minutes({"duration": 360}, 99) == 6
    assert video.estimated_minutes({"duration": 361}, None) == 7
    assert video.estimated_minutes({"duration": 1}, None) == 1
    assert video.estimated_minutes({}, 12) == 12
    assert video.estimated_minutes({"duration": "long"}, None) is None
    for other in ("material", "quiz", "assignment", "coding"):
        assert get_type(other).estimated_minutes(valid(app, other), 25) == 25
        assert get_type(other).estimated_minutes(valid(app, other), None) is None
        assert get_type(other).stored_keys(valid(app, other)) == []


def test_video_validate_recomputes_provider_and_id(app):
    with app.app_context():
        content = get_type("video").validate({"source": "url", "url": "https://youtu.be/kqtD5dpn9C8",
                                              "provider": "vimeo", "videoId": "1", "fileKey": "videos/x.mp4",
                                              "duration": 10})
    assert content["provider"] == "youtube" and content["videoId"] == "kqtD5dpn9C8"
    assert content["fileKey"] is None and content["allowManualComplete"] is False


def test_video_file_content_needs_a_video_key(app):
    with app.app_context():
        for key in (None, "", "submissions/1/a.pdf", "videos/../secret", 7):
            with pytest.raises(InvalidContent) as caught:
                get_type("video").validate({"source": "file", "fileKey": key, "duration": 10})
            assert caught.value.messages == ["The uploaded video file is missing."]
            assert get_type("video").stored_keys({"source": "file", "fileKey": key}) == []


# ---------------------------------------------------------------------------
# material

def test_markdown_material(post):
    content = content_of(post, "material", _base(format="markdown", body="## Variabel\r\n\r\nNilai **x**.\r\n"))
    assert content == {"format": "markdown", "source": "## Variabel\n\nNilai **x**.\n",
                       "html": "<h2>Variabel</h2>\n<p>Nilai <strong>x</strong>.</p>\n"}


def test_html_material_is_sanitised(post):
    body = ('<h2 style="color:red" onclick="steal()">Judul</h2><script>alert(1)</script>'
            '<p>Teks <img src="x.png" onerror="alert(1)"> <a href="javascript:alert(1)">jahat</a> '
            '<a href="https://docs.python.org/">docs</a></p><iframe src="https://evil.example"></iframe>'
            '<STYLE>body{}</STYLE><img src="http://tracker.example/p.gif"><img src="https://cdn.example/a.png">')
    content = content_of(post, "material", _base(format="html", body=body))
    assert content["source"] == content["html"]
    html = content["html"]
    for banned in ("<script", "alert", "onerror", "onclick", "style", "javascript:", "<iframe", "http://tracker"):
        assert banned not in html.lower()
    assert '<img src="x.png">' in html
    assert '<a href="https://docs.python.org/" rel="noopener noreferrer">docs</a>' in html
    assert '<img src="https://cdn.example/a.png">' in html
    assert "<h2>Judul</h2>" in html


def test_raw_html_in_markdown_is_shown_as_text(post):
    content = content_of(post, "material", _base(format="markdown",
                                                  body="Hati-hati:\n\n<script>alert('x')</script>\n\n"
                                                       "<img src=x onerror=alert(1)> [klik](javascript:alert(1))"))
    assert "<script" not in content["html"]
    assert "&lt;script&gt;" in content["html"]
    assert "<img" not in content["html"] and "href" not in content["html"]
    assert "&lt;img src=x onerror=alert(1)&gt; [klik](javascript:alert(1))" in content["html"]
    assert content["source"].startswith("Hati-hati:")


def test_markdown_tables_and_code_blocks():
    html = render_markdown("| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint(1)\n```")
    assert "<table>" in html and "<td>1</td>" in html
    assert '<pre><code class="language-python">print(1)\n</code></pre>' in html
    assert sanitize_html('<code class="language-python evil">x</code>') == '<code class="language-python">x</code>'


@pytest.mark.parametrize("fmt, body", [("markdown", ""), ("markdown", "  \r\n "), ("html", "<script>x</script>"),
                                       ("html", "   ")])
def test_empty_material_is_refused(post, fmt, body):
    assert refused(post, "material", _base(format=fmt, body=body)) == ["Write the material."]


# ---------------------------------------------------------------------------
# quiz

def _quiz(*questions, **settings) -> list[tuple[str, str]]:
    pairs = list(_base(**{"passing_score": "70", "attempts_allowed": "", **settings}).items())
    for i, question in enumerate(questions):
        question = {"kind": "single_choice", "points": "1", **question}
        pairs += [(f"questions-{i}-{name}", value) for name, value in question.items()]
    return pairs


def test_quiz_form_with_every_question_type(post):
    content = content_of(post, "quiz", _quiz(
        {"kind": "single_choice", "text": "Apa hasil print(2 + 3)?", "options": "23\r\n* 5\r\nError\r\n",
         "points": "5", "explanation": "Penjumlahan."},
        {"kind": "multiple_choice", "text": "Tipe bawaan?", "options": "*int\n*str\nangka"},
        {"kind": "true_false", "text": "Python peka huruf besar.", "true_false": "true"},
        {"kind": "short_answer", "text": "Fungsi cetak?", "answers": "print\n\n print() \nprint"},
        shuffle="y", attempts_allowed="3"))
    assert content == {"passingScore": 70, "attemptsAllowed": 3, "shuffle": True, "questions": [
        {"id": "q1", "type": "single_choice", "text": "Apa hasil print(2 + 3)?", "points": 5,
         "explanation": "Penjumlahan.",
         "options": [{"id": "a", "text": "23"}, {"id": "b", "text": "5"}, {"id": "c", "text": "Error"}],
         "correct": ["b"]},
        {"id": "q2", "type": "multiple_choice", "text": "Tipe bawaan?", "points": 1, "explanation": "",
         "options": [{"id": "a", "text": "int"}, {"id": "b", "text": "str"}, {"id": "c", "text": "angka"}],
         "correct": ["a", "b"]},
        {"id": "q3", "type": "true_false", "text": "Python peka huruf besar.", "points": 1, "explanation": "",
         "correct": [True]},
        {"id": "q4", "type": "short_answer", "text": "Fungsi cetak?", "points": 1, "explanation": "",
         "correct": ["print", "print()"]},
    ]}


@pytest.mark.parametrize("question, message", [
    ({"text": "2 + 3?", "options": "5\n23"}, "Question 2: mark the correct option."),
    ({"kind": "multiple_choice", "text": "2 + 3?", "options": "5\n23"},
     "Question 2: mark at least one correct option."),
    ({"text": "2 + 3?", "options": "*5\n*23"}, "Question 2: mark only one correct option."),
    ({"text": "2 + 3?", "options": "*5"}, "Question 2: give between 2 and 10 options."),
    ({"text": "2 + 3?", "options": "\n".join(["*0"] + [str(i) for i in range(1, 11)])},
     "Question 2: give between 2 and 10 options."),
    ({"text": "2 + 3?", "options": "*5\n5"}, "Question 2: two options have the same text."),
    ({"kind": "true_false", "text": "Benar?"}, "Question 2: choose whether the statement is true or false."),
    ({"kind": "short_answer", "text": "Nama?", "answers": "\n \n"}, "Question 2: give at least one accepted answer."),
    ({"kind": "short_answer", "text": "Nama?", "answers": "\n".join(str(i) for i in range(21))},
     "Question 2: give at most 20 accepted answers."),
    ({"text": "", "options": "*5\n23"}, "Question 2: write the question."),
])
def test_quiz_questions_that_are_refused(post, app, question, message):
    ok = {"kind": "true_false", "text": "Baik?", "true_false": "false"}
    assert refused(post, "quiz", _quiz(ok, question)) == [message]


def test_quiz_form_field_errors(post):
    form = post("quiz", _quiz({"kind": "essay", "text": "x", "points": "0"}, passing_score="101"))
    assert not form.is_valid
    assert form.passing_score.errors == ["Enter a whole number from 0 to 100."]
    assert form.questions[0].form.kind.errors == ["Choose one of the options."]
    assert form.questions[0].form.points.errors == ["Enter a whole number from 1 to 1000."]
    form = post("quiz", _quiz({"text": "x", "options": "*a\nb"}, passing_score=""))
    assert form.passing_score.errors == ["This field is required."]


def test_blank_question_rows_are_left_out_and_a_quiz_needs_one_question(post):
    content = content_of(post, "quiz", _quiz({"text": ""}, {"kind": "true_false", "text": "Ya?", "true_false": "true"},
                                             {"kind": "short_answer"}))
    assert [q["text"] for q in content["questions"]] == ["Ya?"]
    assert refused(post, "quiz", _quiz({"text": ""})) == ["Add at least one question."]


def test_options_with_a_star_or_backslash_of_their_own():
    options, correct = parse_options("* \\*args\n\\\\n\n  *  kwargs  \n\n")
    assert options == [{"id": "a", "text": "*args"}, {"id": "b", "text": "\\n"}, {"id": "c", "text": "kwargs"}]
    assert correct == ["a", "c"]
    assert parse_options(format_options(options, correct)) == (options, correct)


def test_quiz_keeps_question_ids_and_numbers_new_ones(post):
    content = content_of(post, "quiz", _quiz(
        {"qid": "q2", "text": "Lama", "options": "*a\nb"},
        {"qid": "", "text": "Baru", "options": "*a\nb"},
        {"qid": "q2", "text": "Salinan", "options": "*a\nb"},
        {"qid": "<bad>", "text": "Aneh", "options": "*a\nb"}))
    assert [q["id"] for q in content["questions"]] == ["q2", "q1", "q3", "q4"]


def test_quiz_content_without_a_correct_option_is_refused(app):
    content = valid(app, "quiz")
    content["questions"][0]["correct"] = []
    content["questions"][1]["correct"] = ["z"]
    content["questions"][2]["correct"] = ["true"]
    content["questions"][3]["id"] = "q1"
    with app.app_context(), pytest.raises(InvalidContent) as caught:
        get_type("quiz").validate(content)
    assert caught.value.messages == [
        "Question 1: mark the correct option.",
        "Question 2: a correct answer is not one of the options.",
        "Question 3: choose whether the statement is true or false.",
        "Question 4: another question has the same id (q1).",
    ]


def test_quiz_settings_are_checked(app):
    content = {**valid(app, "quiz"), "passingScore": 101, "attemptsAllowed": 0, "shuffle": "yes"}
    with app.app_context(), pytest.raises(InvalidContent) as caught:
        get_type("quiz").validate(content)
    assert caught.value.messages == [
        "The passing score must be a whole number from 0 to 100.",
        "Attempts allowed must be a whole number from 1 to 100, or empty for unlimited.",
        "“Shuffle” must be yes or no.",
    ]


def test_quiz_rows_are_added_and_removed(post):
    quiz = get_type("quiz")
    form = post("quiz", _quiz({"qid": "q1", "text": "Satu"}, {"qid": "q2", "text": "Dua"}, add_row="1"))
    assert quiz.handle_row_action(form) is True
    assert [q.form.qid.data for q in form.questions] == ["q1", "q2", "q3"]
    assert form.questions[2].form.text.data in ("", None) and form.questions[2].form.points.data == 1

    form = post("quiz", _quiz({"qid": "q1", "text": "Satu"}, {"qid": "q2", "text": "Dua"},
                              {"qid": "q3", "text": "Tiga"}, remove_row="1"))
    assert quiz.handle_row_action(form) is True
    assert [(q.form.qid.data, q.form.text.data) for q in form.questions] == [("q1", "Satu"), ("q3", "Tiga")]
    assert [q.form.text.name for q in form.questions] == ["questions-0-text", "questions-1-text"]

    form = post("quiz", _quiz({"qid": "q1", "text": "Satu"}, remove_row="0"))
    assert quiz.handle_row_action(form) is True
    assert len(form.questions) == 1 and not form.questions[0].form.text.data

    form = post("quiz", _quiz({"qid": "q1", "text": "Satu"}, remove_row="7"))
    assert quiz.handle_row_action(form) is True
    assert len(form.questions) == 1

    form = post("quiz", _quiz({"qid": "q1", "text": "Satu"}))
    assert quiz.handle_row_action(form) is False


def test_rendered_quiz_form_has_the_row_buttons(app):
    pairs = rendered_pairs(app, "quiz", valid(app, "quiz"))
    assert ("questions-3-qid", "q4") in pairs
    with app.test_request_context():
        quiz = get_type("quiz")
        html = render_template(quiz.fields_template, form=quiz.form_class(data=quiz.form_data(valid(app, "quiz"))))
    assert ('<button type="submit" name="add_row" value="1" formnovalidate class="button">Add a question</button>'
            in html)
    assert 'name="remove_row" value="3" formnovalidate class="button">Remove question 4</button>' in html
    # Enter in a text field clicks the first submit button: it must save, not remove question 1.
    first_button = html[html.index("<button"):html.index("</button>")]
    assert "name=" not in first_button


# ---------------------------------------------------------------------------
# assignment

def test_assignment_form(post):
    content = content_of(post, "assignment", _base(
        instructions="Unggah **program** Anda.", allow_file="y", allow_link="y",
        allowed_file_types="PY, .pdf;zip  .py", max_file_size_mb="5", max_grade="100", due_offset_days="7"))
    assert content == {"instructions": "<p>Unggah <strong>program</strong> Anda.</p>\n",
                       "instructionsSource": "Unggah **program** Anda.", "submissionTypes": ["file", "link"],
                       "allowedFileTypes": [".py", ".pdf", ".zip"], "maxFileSizeMb": 5, "maxGrade": 100,
                       "dueOffsetDays": 7}


@pytest.mark.parametrize("changes, message", [
    ({"allow_file": ""}, "Choose at least one way to hand in the work."),
    ({"allowed_file_types": ""}, "List the file types students may upload, such as .py or .pdf."),
    ({"allowed_file_types": ".py, .tar.gz"}, "“.tar.gz” is not a file extension such as .py or .pdf."),
    ({"instructions": "   "}, "Write the instructions."),
])
def test_assignments_that_are_refused(post, changes, message):
    data = {**_base(instructions="Kerjakan.", allow_file="y", allowed_file_types=".py", max_file_size_mb="5",
                    max_grade="100"), **changes}
    data = {k: v for k, v in data.items() if v != "" or k in ("title", "instructions", "allowed_file_types")}
    assert refused(post, "assignment", data) == [message]


def test_assignment_limits_are_form_errors(post):
    form = post("assignment", _base(instructions="x", allow_text="y", max_file_size_mb="101", max_grade="0",
                                    due_offset_days="366"))
    assert form.max_file_size_mb.errors == ["Enter a whole number from 1 to 100."]
    assert form.max_grade.errors == ["Enter a whole number from 1 to 1000."]
    assert form.due_offset_days.errors == ["Enter a whole number from 0 to 365."]


def test_assignment_without_file_uploads_keeps_no_file_types(post):
    content = content_of(post, "assignment", _base(instructions="Tulis esai.", allow_text="y",
                                                   allowed_file_types=".pdf", max_file_size_mb="5", max_grade="10"))
    assert content["submissionTypes"] == ["text"] and content["allowedFileTypes"] == []
    assert content["dueOffsetDays"] is None


# ---------------------------------------------------------------------------
# coding

def _coding(*tests, **fields) -> list[tuple[str, str]]:
    pairs = list(_base(mode="challenge", instructions="Tulis `kali`.", starter_code="def kali(a, b):\r\n    pass",
                       solution_code="def kali(a, b):\r\n    return a * b", required_packages="",
                       hints="", time_limit="30", output_type="console", completion_criteria="").items())
    pairs = [(k, fields.pop(k, v)) for k, v in pairs] + list(fields.items())
    for i, test in enumerate(tests):
        test = {"points": "10", **test}
        pairs += [(f"test_cases-{i}-{name}", value) for name, value in test.items()]
    return pairs


@pytest.fixture
def served_packages(app, tmp_path):
    """A packages directory as a school would unpack it: a lock file and the wheels it lists."""
    import json

    lock = {"info": {}, "packages": {}}
    for name in ("numpy", "matplotlib"):
        (tmp_path / f"{name}-1.0-py3-none-any.whl").write_bytes(b"wheel")
        lock["packages"][name] = {"name": name, "file_name": f"{name}-1.0-py3-none-any.whl", "imports": [name]}
    lock["packages"]["pandas"] = {"name": "pandas", "file_name": "pandas-1.0-py3-none-any.whl"}  # listed, absent
    (tmp_path / "pyodide-lock.json").write_text(json.dumps(lock))
    app.config["PYODIDE_PACKAGES_DIR"] = str(tmp_path)


def test_packages_the_server_cannot_serve_are_refused(post, app, served_packages):
    form = post("coding", _coding({"test_name": "A", "expected_output": "1"}, required_packages="numpy, pandas"))
    assert not form.is_valid
    assert form.errors["required_packages"] == [
        "This server cannot serve pandas. It serves: matplotlib, numpy. An administrator can add the full Pyodide "
        "release (PYODIDE_PACKAGES_DIR, see the README)."]
    app.config["PYODIDE_PACKAGES_DIR"] = None
    assert "numpy" in post("coding", _coding({"test_name": "A", "expected_output": "1"},
                                             required_packages="numpy")).errors["required_packages"][0]


def test_coding_form(post, served_packages):
    content = content_of(post, "coding", _coding(
        {"test_name": "Contoh", "input": "print(kali(5, 3))", "expected_output": "15 \r\n"},
        {"test_name": "", "input": "print(kali(-2, 4))", "expected_output": "-8", "is_hidden": "y", "points": "5",
         "compare": "numbers", "tolerance": "0,5"},
        required_packages="numpy, matplotlib,numpy", hints="Ingat operator *\r\n\r\nKembalikan hasil\r\n",
        output_type="auto"))
    assert content == {
        "mode": "challenge", "language": "python",
        "instructions": "<p>Tulis <code>kali</code>.</p>\n", "instructionsSource": "Tulis `kali`.",
        "starterCode": "def kali(a, b):\n    pass",
        "testCases": [
            {"id": "tc1", "name": "Contoh", "input": "print(kali(5, 3))", "stdin": "", "expectedOutput": "15",
             "isHidden": False, "points": 10, "compare": "exact", "tolerance": None},
            {"id": "tc2", "name": "Test 2", "input": "print(kali(-2, 4))", "stdin": "", "expectedOutput": "-8",
             "isHidden": True, "points": 5, "compare": "numbers", "tolerance": 0.5}],
        "requiredPackages": ["numpy", "matplotlib"], "hints": ["Ingat operator *", "Kembalikan hasil"],
        "solutionCode": "def kali(a, b):\n    return a * b", "timeLimit": 30, "maxPoints": 15,
        "outputType": "auto", "completionCriteria": "all_tests_pass",
    }


def test_coding_test_without_expected_output_is_refused(post):
    messages = refused(post, "coding", _coding({"test_name": "A", "input": "print(1)", "expected_output": "1"},
                                               {"test_name": "B", "input": "print()", "expected_output": " \n "}))
    assert messages == ["Test 2 needs an expected output."]


def test_challenge_needs_a_test_and_playground_does_not(post):
    assert refused(post, "coding", _coding()) == ["A challenge needs at least one test."]
    content = content_of(post, "coding", _coding(mode="playground"))
    assert content["testCases"] == [] and content["maxPoints"] == 0
    assert content["completionCriteria"] == "run_once"
    assert refused(post, "coding", _coding(mode="playground", completion_criteria="all_tests_pass")) == [
        "Without tests, the exercise can only be completed by running the code once."]


@pytest.mark.parametrize("packages, bad", [("numpy, os;rm", "os;rm"), ("numpy pandas/../x", "pandas/../x"),
                                           ("\"requests\"", "\"requests\"")])
def test_bad_package_names_are_refused(post, served_packages, packages, bad):
    messages = refused(post, "coding", _coding({"test_name": "A", "expected_output": "1"}, required_packages=packages))
    assert messages == [f"“{bad}” is not a package name: use letters, digits, “.”, “_” and “-”."]


def test_coding_content_checks(app):
    content = valid(app, "coding")
    content["testCases"][1]["id"] = "tc1"
    content["testCases"].append({"id": "tc3", "name": "Tanpa", "input": "", "isHidden": False, "points": 1})
    content["language"] = "javascript"
    content["timeLimit"] = 301
    with app.app_context(), pytest.raises(InvalidContent) as caught:
        get_type("coding").validate(content)
    assert caught.value.messages == [
        "Only Python is supported.",
        "Test 2 has the same id as another test (tc1).",
        "Test 3 needs an expected output.",
        "The time limit must be a whole number of seconds from 1 to 300.",
    ]


def test_coding_max_points_are_computed(app):
    content = {**VALID["coding"], "maxPoints": 999}
    with app.app_context():
        assert get_type("coding").validate(content)["maxPoints"] == 15


def test_coding_rows_are_added_and_removed(post):
    coding = get_type("coding")
    form = post("coding", _coding({"tid": "tc1", "test_name": "A", "expected_output": "1"}, add_row="1"))
    assert coding.handle_row_action(form) is True
    assert [t.form.tid.data for t in form.test_cases] == ["tc1", "tc2"]
    assert form.test_cases[1].form.points.data == 10
    form = post("coding", _coding({"tid": "tc1", "test_name": "A"}, {"tid": "tc2", "test_name": "B"}, remove_row="0"))
    assert coding.handle_row_action(form) is True
    assert [t.form.test_name.data for t in form.test_cases] == ["B"]
    form = post("coding", _coding({"tid": "tc1", "test_name": "A"}))
    assert coding.handle_row_action(form) is False


# ---------------------------------------------------------------------------
# every type: round trips, previews, junk, demo content

@pytest.mark.parametrize("kind", list(REGISTRY))
def test_edit_form_round_trip_gives_the_same_content(app, post, kind, served_packages):
    content = valid(app, kind)
    pairs = rendered_pairs(app, kind, content)
    assert content_of(post, kind, pairs) == content


def test_round_trip_of_a_playground_and_a_link_video(app, post, served_packages):
    with app.app_context():
        playground = get_type("coding").validate({**VALID["coding"], "mode": "playground", "testCases": [],
                                                  "completionCriteria": "run_once", "outputType": "visual"})
        video = get_type("video").validate({**VALID["video"], "url": "https://youtu.be/kqtD5dpn9C8",
                                            "allowManualComplete": True})
    assert content_of(post, "coding", rendered_pairs(app, "coding", playground)) == playground
    assert content_of(post, "video", rendered_pairs(app, "video", video)) == video


def test_validate_is_idempotent(app):
    for kind in REGISTRY:
        once = valid(app, kind)
        with app.app_context():
            assert get_type(kind).validate(copy.deepcopy(once)) == once


def test_previews_show_what_students_see_and_nothing_else(app):
    html = preview(app, "video", valid(app, "video"))
    assert 'src="https://player.vimeo.com/video/76979871?dnt=1"' in html and "2:05" in html
    with app.app_context():
        youtube = get_type("video").validate({**VALID["video"], "url": "https://youtu.be/kqtD5dpn9C8"})
    assert 'src="https://www.youtube-nocookie.com/embed/kqtD5dpn9C8"' in preview(app, "video", youtube)

    assert "<h1>Judul</h1>" in preview(app, "material", valid(app, "material"))

    html = preview(app, "quiz", valid(app, "quiz"))
    assert "2 + 3?" in html and "angka" in html and "Fungsi cetak?" in html
    assert "Penjumlahan" not in html and "checked" not in html and "print()" not in html
    assert html.count("disabled") >= 9

    html = preview(app, "assignment", valid(app, "assignment"))
    assert "<em>soal</em>" in html and ".py, .zip" in html and "20 MB" in html and "No due date" in html

    html = preview(app, "coding", valid(app, "coding"))
    assert "Dasar" in html and "print(kali(5, 3))" in html and "def kali(a, b):" in html
    assert "Rahasia" not in html and "-8" not in html and "SOLUTION" not in html and "Kembalikan" not in html
    assert "and 1 hidden test" in html and "2 hints available" in html


def test_file_video_preview_uses_the_app_endpoint(app):
    if "authoring.video_file" not in app.view_functions:
        app.add_url_rule("/authoring/videos/<path:key>", endpoint="authoring.video_file", view_func=lambda key: "")
    html = preview(app, "video", {"source": "file", "provider": "file", "fileKey": "videos/abc.mp4", "duration": 5,
                                  "url": None, "videoId": None, "allowManualComplete": False})
    assert "<video controls" in html and "videos/abc.mp4" in html and "<iframe" not in html


def test_previews_survive_incomplete_content(app):
    for kind in REGISTRY:
        assert isinstance(preview(app, kind, {}), str)


JUNK = [None, True, 0, -1, 3.5, "", "x", [], [None], [1, "a"], {}, {"a": None}, [[[]]], {"id": {"id": []}},
        "\x00", "\ud800", 10 ** 30, ["file", "file"]]


@pytest.mark.parametrize("kind", list(REGISTRY))
def test_validate_never_raises_anything_but_invalid_content(app, kind):
    exercise_type = get_type(kind)
    rng = random.Random(f"babyowl-{kind}")

    def check(value):
        try:
            result = exercise_type.validate(value)
        except InvalidContent as error:
            assert error.messages and all(isinstance(m, str) and m for m in error.messages)
        else:
            assert isinstance(result, dict)
            assert exercise_type.validate(copy.deepcopy(result)) == result

    def containers(value, path=()):
        if isinstance(value, dict):
            yield value
            for item in value.values():
                yield from containers(item)
        elif isinstance(value, list):
            yield value
            for item in value:
                yield from containers(item)

    with app.app_context():
        for junk in JUNK:
            check(junk)
        base = VALID[kind]
        for key in base:
            for junk in JUNK:
                check({**copy.deepcopy(base), key: junk})
            check({k: v for k, v in copy.deepcopy(base).items() if k != key})
        for _ in range(400):
            content = copy.deepcopy(base)
            for _ in range(rng.randint(1, 3)):
                target = rng.choice(list(containers(content)))
                if isinstance(target, dict) and target:
                    key = rng.choice(list(target))
                    if rng.random() < 0.2:
                        del target[key]
                    else:
                        target[key] = copy.deepcopy(rng.choice(JUNK))
                elif isinstance(target, list) and target:
                    target[rng.randrange(len(target))] = copy.deepcopy(rng.choice(JUNK))
            check(content)


def test_text_is_cleaned_of_characters_postgresql_refuses(app):
    with app.app_context():
        content = get_type("quiz").validate({**VALID["quiz"], "questions": [
            {**VALID["quiz"]["questions"][2], "text": "Be\x00nar\ud800?"}]})
    assert content["questions"][0]["text"] == "Benar?"


def test_every_demo_exercise_validates(app):
    from babyowl.demo import COURSES, _exercises_for

    titles = [title for course in COURSES for _section, lessons in course[6] for title in lessons]
    assert titles
    with app.app_context():
        for n, title in enumerate(titles, start=1):
            exercises = _exercises_for(title, n)
            assert [kind for _t, kind, _c, _m in exercises] == list(REGISTRY)
            for _title, kind, content, minutes in exercises:
                exercise_type = get_type(kind)
                assert exercise_type.validate(copy.deepcopy(content)) == content
                assert exercise_type.estimated_minutes(content, minutes) == minutes
            assert preview(app, "coding", exercises[4][2])
