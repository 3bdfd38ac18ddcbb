"""The JSON API for authors: courses, sections, lessons and exercises, with the rules of the authoring pages."""
from __future__ import annotations

from tests.api.test_api import _data, _refusal
from tests.factories import make_class, make_course
from tests.learning_data import QUIZ


def test_an_author_builds_and_publishes_a_course(client, db, api_as):
    author, headers = api_as("instructor")
    created = client.post("/api/v1/courses", headers=headers,
                          json={"title": "Python untuk Pemula", "description": "Dasar-dasar", "level": "beginner"})
    course = _data(created)
    assert created.status_code == 201 and course["slug"] == "python-untuk-pemula" and course["status"] == "draft"
    _refusal(client.put(f"/api/v1/courses/{course['id']}/status", headers=headers, json={"status": "published"}), 409)
    section = _data(client.post(f"/api/v1/courses/{course['id']}/sections", headers=headers, json={"title": "Bab 1"}))
    lesson = _data(client.post(f"/api/v1/sections/{section['id']}/lessons", headers=headers,
                               json={"title": "Variabel"}))
    bad = _refusal(client.post(f"/api/v1/lessons/{lesson['id']}/exercises", headers=headers,
                               json={"type": "quiz", "title": "Kuis", "content": {"questions": []}}), 422)
    assert bad["details"]["problems"]
    quiz = _data(client.post(f"/api/v1/lessons/{lesson['id']}/exercises", headers=headers,
                             json={"type": "quiz", "title": "Kuis", "content": QUIZ}))
    assert quiz["content"]["questions"][0]["correct"] == ["a"]  # the author sees the answers
    renamed = _data(client.put(f"/api/v1/exercises/{quiz['id']}", headers=headers,
                               json={"title": "Kuis 1", "content": QUIZ}))
    assert renamed["title"] == "Kuis 1"
    assert [e["title"] for e in _data(client.get(f"/api/v1/lessons/{lesson['id']}/exercises", headers=headers))] \
        == ["Kuis 1"]
    published = _data(client.put(f"/api/v1/courses/{course['id']}/status", headers=headers,
                                 json={"status": "published"}))
    assert published["status"] == "published"
    outline = _data(client.get(f"/api/v1/courses/{course['id']}", headers=headers))
    assert outline["sections"][0]["lessons"][0]["exercises"][0]["type"] == "quiz"
    assert [c["id"] for c in _data(client.get("/api/v1/courses", headers=headers))] == [course["id"]]
    _refusal(client.delete(f"/api/v1/courses/{course['id']}", headers=headers), 409)  # only drafts


def test_only_the_author_changes_a_course(client, db, api_as):
    author, headers = api_as("instructor")
    course = make_course(author=author, status="draft")
    _, other = api_as("instructor")
    _refusal(client.get(f"/api/v1/courses/{course.id}", headers=other), 403)
    _refusal(client.put(f"/api/v1/courses/{course.id}", headers=other, json={"title": "X"}), 403)
    _refusal(client.post("/api/v1/courses", headers=api_as("staff")[1], json={"title": "X"}), 403)
    _refusal(client.post("/api/v1/courses", headers=api_as("student")[1], json={"title": "X"}), 403)
    taken = make_course(slug="sudah-ada")
    _refusal(client.put(f"/api/v1/courses/{course.id}", headers=headers,
                        json={"title": "Baru", "slug": taken.slug}), 422)
    make_class(course=course)
    _refusal(client.delete(f"/api/v1/courses/{course.id}", headers=headers), 409)  # a class uses it
    draft = make_course(author=author, status="draft")
    assert _data(client.delete(f"/api/v1/courses/{draft.id}", headers=headers))["done"] is True
    exercise_id = course.sections[0].lessons[0].exercises[0].id
    assert _data(client.delete(f"/api/v1/exercises/{exercise_id}", headers=headers))["done"] is True
