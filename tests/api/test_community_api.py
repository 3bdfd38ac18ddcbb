"""The community through the JSON API: the same rules and numbers as the pages (services/community*.py)."""
from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from babyowl.models import CommunityPost, CommunityPostLike
from babyowl.services import community, community_events, community_groups
from babyowl.services.school_time import school_today
from tests.api.test_api import _data, _refusal
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import reload, signed_in_client, text


@pytest.fixture
def people(db, bearer):
    """A student in one class (and not in another), a classmate, their instructor and staff, with bearer headers."""
    instructor, student, classmate = make_user("instructor"), make_user("student"), make_user("student")
    mine, other = make_class(instructor=instructor, name="Kelas Saya"), make_class(name="Kelas Lain")
    make_enrollment(mine, student)
    make_enrollment(mine, classmate)
    staff = make_user("staff")
    return {"student": student, "classmate": classmate, "instructor": instructor, "staff": staff, "mine": mine,
            "other": other, "auth": {u.id: bearer(u) for u in (student, classmate, instructor, staff)}}


def _post(client, headers, **body):
    return client.post("/api/v1/community/posts", headers=headers, json={"content": "Halo", **body})


def test_posting_sanitises_markdown_and_follows_who_may_post_where(client, db, people):
    me = people["auth"][people["student"].id]
    created = _post(client, me, content="**Lihat** <script>alert(1)</script>")
    post = _data(created)
    assert created.status_code == 201 and post["status"] == "published" and post["scope"] == "school"
    assert "<strong>Lihat</strong>" in post["content_html"] and "<script>" not in post["content_html"]
    in_class = _data(_post(client, me, scope="class", class_id=str(people["mine"].id)))
    assert in_class["class_id"] == str(people["mine"].id)
    _refusal(_post(client, me, scope="class", class_id=str(people["other"].id)), 404)  # a class I am not in
    group = community_groups.create_group(people["instructor"], name="Klub")
    refused = _refusal(_post(client, me, scope="group", group_id=str(group.id)), 403)
    assert "Join the group first" in refused["message"]
    _refusal(_post(client, me, content="   "), 422)
    community.save_settings(people["staff"], posts_need_approval=True, muted_words=["bodoh"])
    _refusal(_post(client, me, content="Kamu bodoh"), 422)
    assert _data(_post(client, me, content="Boleh?"))["status"] == "pending"


def test_the_feed_pages_by_cursor_and_shows_only_my_scopes(client, db, people):
    me = people["auth"][people["student"].id]
    school_posts = [community.create_post(people["classmate"], content=f"Sekolah {n}") for n in range(3)]
    class_post = community.create_post(people["instructor"], content="Kelas", scope="class",
                                       target_id=people["mine"].id)
    community.create_post(people["staff"], content="Rahasia", scope="class", target_id=people["other"].id)
    first = client.get("/api/v1/community/posts?limit=3", headers=me).get_json()
    rest = client.get(f"/api/v1/community/posts?limit=3&cursor={first['meta']['next_cursor']}", headers=me)
    ids = [p["id"] for p in first["data"] + _data(rest)]
    assert ids == [str(p.id) for p in (class_post, *reversed(school_posts))]
    assert first["meta"]["has_more"] and rest.get_json()["meta"]["has_more"] is False
    mine = _data(client.get(f"/api/v1/community/posts?class_id={people['mine'].id}", headers=me))
    assert [p["id"] for p in mine] == [str(class_post.id)]
    assert len(_data(client.get("/api/v1/community/posts?show=school", headers=me))) == 3
    _refusal(client.get(f"/api/v1/community/posts?class_id={people['other'].id}", headers=me), 404)
    _refusal(client.get("/api/v1/community/posts?cursor=bm9wZQ", headers=me), 422)
    staff = _data(client.get(f"/api/v1/community/posts?class_id={people['other'].id}",
                             headers=people["auth"][people["staff"].id]))
    assert [p["content"] for p in staff] == ["Rahasia"]


def test_my_post_is_edited_and_deleted_by_me_only(client, db, people):
    me, classmate = people["auth"][people["student"].id], people["auth"][people["classmate"].id]
    post = _data(_post(client, me, content="Awal"))
    url = f"/api/v1/community/posts/{post['id']}"
    edited = _data(client.put(url, headers=me, json={"content": "_Baru_ <img src=x onerror=alert(1)>"}))
    assert edited["content"].startswith("_Baru_") and "<em>Baru</em>" in edited["content_html"]
    assert "<img" not in edited["content_html"]  # the tag is text, never an element
    _refusal(client.put(url, headers=classmate, json={"content": "Punyaku"}), 403)
    _refusal(client.delete(url, headers=classmate), 403)
    _refusal(client.put(url, headers=me, json={"content": ""}), 422)
    assert _data(client.delete(url, headers=me))["status"] == "deleted"
    _refusal(client.get(url, headers=me), 404)
    _refusal(client.put(url, headers=me, json={"content": "Lagi"}), 404)


def test_comments_page_by_cursor_and_my_comment_is_mine_to_delete(client, db, people):
    me, classmate = people["auth"][people["student"].id], people["auth"][people["classmate"].id]
    post = community.create_post(people["classmate"], content="Diskusi")
    url = f"/api/v1/community/posts/{post.id}/comments"
    added = [client.post(url, headers=me, json={"content": f"Komentar {n}"}) for n in range(5)]
    assert {r.status_code for r in added} == {201}
    first = client.get(f"{url}?limit=2", headers=classmate).get_json()
    second = client.get(f"{url}?limit=2&cursor={first['meta']['next_cursor']}", headers=classmate).get_json()
    third = client.get(f"{url}?limit=2&cursor={second['meta']['next_cursor']}", headers=classmate).get_json()
    assert [c["content"] for c in first["data"] + second["data"] + third["data"]] == [
        f"Komentar {n}" for n in range(5)]
    assert third["meta"]["has_more"] is False
    own = _data(added[0])["id"]
    _refusal(client.delete(f"/api/v1/community/comments/{own}", headers=classmate), 403)
    assert _data(client.delete(f"/api/v1/community/comments/{own}", headers=me))["status"] == "deleted"
    assert reload(db, post).comments_count == 4
    _refusal(client.post(url, headers=me, json={"content": ""}), 422)
    hidden = community.create_post(people["staff"], content="Kelas lain", scope="class", target_id=people["other"].id)
    _refusal(client.get(f"/api/v1/community/posts/{hidden.id}/comments", headers=me), 404)


def test_like_and_unlike_are_idempotent_and_the_page_shows_the_same_count(app, client, db, people):
    post = community.create_post(people["classmate"], content="Suka?")
    url = f"/api/v1/community/posts/{post.id}/like"
    for user in (people["student"], people["instructor"]):
        for _ in range(2):
            liked = _data(client.put(url, headers=people["auth"][user.id]))
    assert liked["liked"] and liked["likes_count"] == 2
    shown = text(signed_in_client(app, people["staff"]).get(f"/community/posts/{post.id}"))
    assert int(re.search(r'class="like-count">(\d+)<', shown).group(1)) == liked["likes_count"]
    assert _data(client.get(f"/api/v1/community/posts/{post.id}", headers=people["auth"][people["student"].id]))[
        "liked"] is True
    unliked = _data(client.delete(url, headers=people["auth"][people["student"].id]))
    again = _data(client.delete(url, headers=people["auth"][people["student"].id]))
    assert (unliked["liked"], unliked["likes_count"], again["likes_count"]) == (False, 1, 1)


def test_ten_parallel_likes_of_one_person_make_one_row_and_count_one(db, people, at_once):
    post = community.create_post(people["classmate"], content="Ramai")
    headers, url = people["auth"][people["student"].id], f"/api/v1/community/posts/{post.id}/like"
    assert at_once(10, lambda browser: browser.put(url, headers=headers)) == [200] * 10
    assert reload(db, post).likes_count == 1
    assert db.session.scalar(select(func.count()).select_from(CommunityPostLike)
                             .where(CommunityPostLike.post_id == post.id)) == 1


def test_reports_and_moderation_keep_who_when_and_why(client, db, people):
    me, staff = people["auth"][people["student"].id], people["auth"][people["staff"].id]
    post = community.create_post(people["classmate"], content="Iklan")
    comment = community.add_comment(people["classmate"], post.id, "Spam")
    assert client.post(f"/api/v1/community/posts/{post.id}/report", headers=me,
                       json={"reason": "Iklan"}).status_code == 201
    assert client.post(f"/api/v1/community/comments/{comment.id}/report", headers=me,
                       json={"reason": "Spam"}).status_code == 201
    _refusal(client.post(f"/api/v1/community/posts/{post.id}/report", headers=me, json={"reason": ""}), 422)
    url = f"/api/v1/community/posts/{post.id}/moderation"
    _refusal(client.post(url, headers=me, json={"action": "hide", "reason": "Iklan"}), 403)
    _refusal(client.post(url, headers=staff, json={"action": "hide"}), 422)
    hidden = _data(client.post(url, headers=staff, json={"action": "hide", "reason": "Iklan"}))
    assert hidden["status"] == "hidden" and hidden["moderated_by"] == str(people["staff"].id)
    assert hidden["moderation_reason"] == "Iklan" and hidden["moderated_at"]
    _refusal(client.get(f"/api/v1/community/posts/{post.id}", headers=me), 404)
    assert str(post.id) not in {p["id"] for p in _data(client.get("/api/v1/community/posts", headers=me))}
    _refusal(client.post(url, headers=staff, json={"action": "remove", "reason": "Lagi"}), 422)
    removed = _data(client.post(f"/api/v1/community/comments/{comment.id}/moderation", headers=staff,
                                json={"action": "remove", "reason": "Spam"}))
    assert removed["status"] == "removed" and removed["moderation_reason"] == "Spam"
    assert db.session.scalar(select(CommunityPost.status).where(CommunityPost.id == post.id)) == "hidden"


def test_groups_listed_by_cursor_joined_and_left(client, db, people):
    me = people["auth"][people["student"].id]
    groups = [community_groups.create_group(people["instructor"], name=f"Klub {n}") for n in range(3)]
    closed = community_groups.create_group(people["instructor"], name="Klub Undangan", join_policy="invitation")
    first = client.get("/api/v1/community/groups?limit=2", headers=me).get_json()
    rest = client.get(f"/api/v1/community/groups?limit=2&cursor={first['meta']['next_cursor']}", headers=me)
    assert [g["name"] for g in first["data"] + _data(rest)] == ["Klub 0", "Klub 1", "Klub 2", "Klub Undangan"]
    joined = _data(client.post(f"/api/v1/community/groups/{groups[0].id}/join", headers=me))
    again = _data(client.post(f"/api/v1/community/groups/{groups[0].id}/join", headers=me))
    assert joined["my_role"] == "member" and joined["members_count"] == again["members_count"] == 2
    _refusal(client.post(f"/api/v1/community/groups/{closed.id}/join", headers=me), 403)
    assert _post(client, me, scope="group", group_id=str(groups[0].id)).status_code == 201
    left = _data(client.post(f"/api/v1/community/groups/{groups[0].id}/leave", headers=me))
    assert left["my_role"] is None and left["members_count"] == 1
    _refusal(client.post(f"/api/v1/community/groups/{groups[0].id}/leave",
                         headers=people["auth"][people["instructor"].id]), 409)  # the creator stays


def test_events_listed_by_cursor_and_rsvp_stops_at_capacity(client, db, people):
    def event(days, capacity=None):
        return community_events.create_event(people["instructor"], title=f"Acara {days}", description=None,
                                             event_date=school_today() + timedelta(days=days), start_time=time(9),
                                             end_time=time(11), online=True, location=None, capacity=capacity)

    events = [event(days) for days in (3, 1, 2)]
    me = people["auth"][people["student"].id]
    first = client.get("/api/v1/community/events?limit=2", headers=me).get_json()
    rest = client.get(f"/api/v1/community/events?limit=2&cursor={first['meta']['next_cursor']}", headers=me)
    assert [e["title"] for e in first["data"] + _data(rest)] == ["Acara 1", "Acara 2", "Acara 3"]
    small = event(5, capacity=1)
    url = f"/api/v1/community/events/{small.id}/rsvp"
    answered = _data(client.put(url, headers=me, json={"status": "attending"}))
    assert answered["my_rsvp"] == "attending" and answered["attendees_count"] == 1 and answered["full"]
    refused = _refusal(client.put(url, headers=people["auth"][people["classmate"].id],
                                  json={"status": "attending"}), 409)
    assert refused["details"]["reason"] == "EVENT_FULL"
    assert _data(client.put(url, headers=me, json={"status": "maybe"}))["attendees_count"] == 0
    _refusal(client.put(f"/api/v1/community/events/{events[0].id}/rsvp", headers=me, json={"status": "ya"}), 422)


def test_community_lists_run_the_same_statements_whatever_the_rows(client, db, people, list_statements):
    me = people["auth"][people["student"].id]
    post = community.create_post(people["classmate"], content="Pertama")

    def grow():
        for n in range(4):
            extra = community.create_post(people["classmate"], content=f"Post {n}", scope="class",
                                          target_id=people["mine"].id)
            community.like(people["student"], extra.id)
            community.add_comment(people["student"], post.id, f"Komentar {n}")
            community.add_comment(people["classmate"], extra.id, "Ya")
            community_groups.create_group(people["instructor"], name=f"Klub {n}")
            community_events.create_event(people["instructor"], title=f"Acara {n}", description=None,
                                          event_date=school_today() + timedelta(days=n + 1), start_time=time(9),
                                          end_time=time(11), online=True, location=None, capacity=None)

    lists = [(url, me) for url in (
        "/api/v1/community/posts?limit=100", f"/api/v1/community/posts/{post.id}/comments?limit=100",
        "/api/v1/community/groups?limit=100", "/api/v1/community/events?limit=100",
        f"/api/v1/community/posts?limit=100&class_id={people['mine'].id}")]

    grow()
    few = list_statements(lists)
    grow()
    assert list_statements(lists) == few


def test_a_posts_pictures_are_served_to_whoever_may_read_the_post(client, db, people, bearer):
    import io

    from PIL import Image
    from werkzeug.datastructures import FileStorage

    picture = io.BytesIO()
    Image.new("RGB", (30, 20), "blue").save(picture, "PNG")
    picture.seek(0)
    post = community.create_post(people["instructor"], content="Foto kelas", scope="class",
                                 target_id=people["mine"].id, images=[FileStorage(picture, filename="a.png")])
    me = people["auth"][people["student"].id]
    assert _data(client.get(f"/api/v1/community/posts/{post.id}", headers=me))["image_count"] == 1
    served = client.get(f"/api/v1/community/posts/{post.id}/images/0", headers=me)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    served.close()
    _refusal(client.get(f"/api/v1/community/posts/{post.id}/images/1", headers=me), 404)
    _refusal(client.get(f"/api/v1/community/posts/{post.id}/images/0", headers=bearer(make_user("student"))), 404)


def _picture(color: str = "blue"):
    import io

    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (30, 20), color).save(picture, "PNG")
    picture.seek(0)
    return picture


def test_a_post_with_pictures_and_a_drawing_follows_the_pages_rules(client, db, people):
    from babyowl.models import CodingSubmission
    from babyowl.models.community import MAX_POST_IMAGES
    from tests.factories import make_course

    me = people["auth"][people["student"].id]
    url = "/api/v1/community/posts/files"
    sent = client.post(url, headers=me, content_type="multipart/form-data", data={
        "content": "Foto proyek", "scope": "class", "class_id": str(people["mine"].id),
        "images": [(_picture("blue"), "a.png"), (_picture("red"), "b.png")]})
    post = _data(sent)
    assert sent.status_code == 201 and post["image_count"] == 2 and post["class_id"] == str(people["mine"].id)
    served = client.get(f"/api/v1/community/posts/{post['id']}/images/1", headers=me)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    served.close()
    # The page's rules, not the API's: too many pictures, a file that is not a picture, another class.
    too_many = [(_picture(), f"{n}.png") for n in range(MAX_POST_IMAGES + 1)]
    refused = _refusal(client.post(url, headers=me, content_type="multipart/form-data",
                                   data={"content": "Banyak", "images": too_many}), 422)
    assert f"at most {MAX_POST_IMAGES} pictures" in refused["message"]
    import io

    fake = _refusal(client.post(url, headers=me, content_type="multipart/form-data",
                                data={"content": "Bukan gambar", "images": [(io.BytesIO(b"MZ not a png"), "x.png")]}),
                    422)
    assert fake["code"] == "VALIDATION_ERROR"
    _refusal(client.post(url, headers=me, content_type="multipart/form-data",
                         data={"content": "Kelas lain", "scope": "class", "class_id": str(people["other"].id),
                               "images": [(_picture(), "c.png")]}), 404)
    # A turtle drawing shared from my own coding submission, drawn escaped as on the page.
    exercise = make_course(lessons=1).sections[0].lessons[0].exercises[0]
    program = CodingSubmission(user_id=people["student"].id, exercise_id=exercise.id, code="import turtle", passed=True)
    db.session.add(program)
    db.session.commit()
    drawing = '{"lines": [[0, 0, 50, 50, "red", 3]], "dots": [], "fills": [], "bg": "white", ' \
              '"texts": [[0, 0, "<script>alert(1)</script>", "blue", "left", 8]]}'
    shared = client.post(url, headers=me, content_type="multipart/form-data", data={
        "content": "Gambarku", "coding_submission_id": str(program.id), "drawing": drawing})
    assert shared.status_code == 201, shared.get_data(as_text=True)
    stored = db.session.get(CommunityPost, _data(shared)["id"])
    assert stored.drawing["lines"] == [[0, 0, 50, 50, "red", 3]]
    broken = {"content": "Rusak", "coding_submission_id": str(program.id), "drawing": "{not json"}
    _refusal(client.post(url, headers=me, content_type="multipart/form-data", data=broken), 422)
    assert db.session.scalar(select(func.count()).select_from(CommunityPost)) == 2
