"""The community pages as people use them: posting, liking, commenting, groups, events, moderation."""
from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import time, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from babyowl.models import CommunityEventRSVP, CommunityGroupMember, CommunityPost, CommunityPostLike
from babyowl.services import community, community_events, community_groups
from babyowl.services.school_time import school_today
from tests.factories import make_user
from tests.helpers import flashes, reload, signed_in_client, text

HX = {"HX-Request": "true"}


def png() -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), "green").save(buffer, "PNG")
    buffer.seek(0)
    return buffer


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_anonymous_people_are_sent_to_sign_in(client, db):
    response = client.get("/community")
    assert response.status_code in (302, 303) and response.headers["Location"].startswith("/login?next=")


def test_a_student_posts_and_a_script_in_it_is_inert(client, db, login_as):
    login_as("student", full_name="Andi")
    response = client.post("/community/posts", data={"content": "Lihat ini <script>alert('x')</script>",
                                                     "where": "school", "submission": ""})
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert "Posted." in flashes(page)
    html = page.get_data(as_text=True)
    assert "<script>alert('x')</script>" not in html and "&lt;script&gt;alert" in html
    assert "Andi" in html


def test_an_empty_post_is_refused_with_422_and_nothing_saved(client, db, login_as):
    login_as("student")
    response = client.post("/community/posts", data={"content": "  ", "where": "school"}, headers=HX)
    assert response.status_code == 422 and "This field is required." in text(response)
    assert count(db, CommunityPost) == 0


def test_like_and_unlike_with_htmx_and_without(client, db, login_as):
    author = make_user("student")
    post = community.create_post(author, content="Suka?")
    login_as("student")
    liked = client.post(f"/community/posts/{post.id}/like", headers=HX)
    assert liked.status_code == 200 and 'aria-pressed="true"' in text(liked)
    assert re.search(r'class="like-count">1<', text(liked))
    plain = client.post(f"/community/posts/{post.id}/unlike", data={"next": "/community"})
    assert plain.status_code == 303 and plain.headers["Location"] == "/community"
    assert reload(db, post).likes_count == 0


def test_a_comment_is_added_and_the_author_sees_the_notification(app, client, db, login_as):
    author = make_user("student", full_name="Andi")
    post = community.create_post(author, content="Kura-kura")
    login_as("student", full_name="Dewi")
    response = client.post(f"/community/posts/{post.id}/comments", data={"content": "Keren **banget**"},
                           headers=HX)
    assert response.status_code == 200 and "<strong>banget</strong>" in response.get_data(as_text=True)
    empty = client.post(f"/community/posts/{post.id}/comments", data={"content": ""}, headers=HX)
    assert empty.status_code == 422
    author_browser = signed_in_client(app, author)
    notifications = text(author_browser.get("/notifications"))
    assert "New comment on your post" in notifications and "Dewi commented" in notifications


@pytest.mark.parametrize("same_person", [False, True], ids=["20 people", "one person 20 times"])
def test_twenty_parallel_likes_count_exactly(app, db, same_person):
    post = community.create_post(make_user("student"), content="Ramai")
    fans = [make_user("student")] * 20 if same_person else [make_user("student") for _ in range(20)]
    browsers = [signed_in_client(app, fan) for fan in fans]
    url = f"/community/posts/{post.id}/like"  # read here: the threads have no app context to load rows

    def like(n):
        return browsers[n].post(url, headers=HX).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(like, range(20)))
    assert statuses == [200] * 20
    expected = 1 if same_person else 20
    assert reload(db, post).likes_count == expected
    assert count(db, CommunityPostLike, CommunityPostLike.post_id == post.id) == expected


def test_twenty_parallel_rsvps_count_exactly_and_stop_at_capacity(app, db):
    teacher = make_user("instructor")
    event = community_events.create_event(teacher, title="Workshop", description=None,
                                          event_date=school_today() + timedelta(days=3), start_time=time(9),
                                          end_time=time(11), online=True, location=None, capacity=12)
    browsers = [signed_in_client(app, make_user("student")) for _ in range(20)]
    url = f"/community/events/{event.id}/rsvp"

    def answer(n):
        return browsers[n].post(url, data={"status": "attending"}, headers=HX).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(answer, range(20)))
    assert sorted(statuses) == [200] * 12 + [409] * 8
    event = reload(db, event)
    assert event.attendees_count == 12 == count(db, CommunityEventRSVP, CommunityEventRSVP.status == "attending")
    full = browsers[0].get(f"/community/events/{event.id}")
    assert "12 of 12 places taken" in text(full) and "full" in text(full)


def test_twenty_parallel_joins_keep_the_member_count_true(app, db):
    group = community_groups.create_group(make_user("instructor"), name="Klub Python")
    browsers = [signed_in_client(app, make_user("student")) for _ in range(20)]
    url = f"/community/groups/{group.id}/join"
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda n: browsers[n].post(url).status_code, range(20)))
    assert statuses == [303] * 20
    assert reload(db, group).members_count == 21 == count(db, CommunityGroupMember)


def test_a_non_member_cannot_post_in_a_group_through_the_page(client, db, login_as):
    group = community_groups.create_group(make_user("instructor"), name="Klub")
    login_as("student")
    response = client.post("/community/posts", data={"content": "Halo", "where": f"group:{group.id}",
                                                     "from_group": "1"})
    assert response.status_code == 403
    assert count(db, CommunityPost) == 0


def test_a_student_asks_for_a_group_and_staff_approve_it(app, client, db, login_as):
    student = login_as("student")
    response = client.post("/community/groups", data={"name": "Belajar bareng", "join_policy": "open"})
    assert response.status_code == 303
    assert "staff will decide" in flashes(client.get(response.headers["Location"]))[0]
    group_id = community_groups.groups_for(student)[0].id
    assert client.post(f"/community/groups/{group_id}/review", data={"decision": "approve"}).status_code == 403
    staff = signed_in_client(app, make_user("staff"))
    assert staff.post(f"/community/groups/{group_id}/review", data={"decision": "approve"}).status_code == 303
    page = text(client.get(f"/community/groups/{group_id}"))
    assert "1 member" in page and "creator" in page


def test_report_then_hide_and_the_post_is_gone_from_the_feed(app, client, db, login_as):
    author = make_user("student")
    post = community.create_post(author, content="Sesuatu yang kasar")
    login_as("student")
    assert "Sesuatu yang kasar" in text(client.get("/community"))
    reported = client.post(f"/community/posts/{post.id}/report", data={"reason": "Kasar"})
    assert reported.status_code == 303
    staff = signed_in_client(app, make_user("staff"))
    queue = text(staff.get("/community/moderation"))
    assert "Sesuatu yang kasar" in queue and "Kasar" in queue
    hidden = staff.post(f"/community/moderation/posts/{post.id}", data={"action": "hide", "reason": "Kasar"})
    assert hidden.status_code == 303
    assert "Sesuatu yang kasar" not in text(client.get("/community"))
    assert client.get(f"/community/posts/{post.id}").status_code == 404
    assert "No open reports." in text(staff.get("/community/moderation"))


def test_the_feed_runs_the_same_statements_for_5_or_25_posts_with_comments(client, db, login_as, count_queries):
    reader_ = login_as("student")
    authors = [make_user("student") for _ in range(3)]
    group = community_groups.create_group(make_user("instructor"), name="Klub")
    for member in (reader_, *authors):
        community_groups.join(member, group.id)

    def add_posts(n):
        for i in range(n):
            author = authors[i % 3]
            if i % 4 == 0:
                post = community.create_post(author, content=f"Grup {i}", scope="group", target_id=group.id,
                                             images=[png()])
            else:
                post = community.create_post(author, content=f"Post {i}")
            for commenter in authors:
                community.add_comment(commenter, post.id, "Mantap")
            community.like(authors[(i + 1) % 3], post.id)

    add_posts(5)
    with count_queries() as few:
        assert client.get("/community").status_code == 200
    add_posts(20)
    with count_queries() as many:
        page = client.get("/community")
    assert page.status_code == 200 and text(page).count('class="card post"') == community.FEED_PAGE
    assert len(many) == len(few)


def test_the_next_page_comes_as_a_fragment_for_htmx(client, db, login_as):
    author = make_user("student")
    for n in range(community.FEED_PAGE + 2):
        community.create_post(author, content=f"Nomor {n}")
    login_as("student")
    first = text(client.get("/community"))
    more = re.search(r'hx-get="([^"]+cursor=[^"]+)"', first).group(1).replace("&amp;", "&")
    fragment = client.get(more, headers=HX)
    body = text(fragment)
    assert "<html" not in body and "Nomor 1" in body and "Nomor 0" in body and "Nomor 5" not in body
    assert fragment.headers["Vary"] == "HX-Request" or "HX-Request" in fragment.headers["Vary"]


def test_an_instructor_creates_an_event_and_students_download_its_ics(app, client, db, login_as):
    login_as("instructor")
    day = (school_today() + timedelta(days=10)).isoformat()
    response = client.post("/community/events", data={"title": "Hari Scratch", "event_date": day,
                                                      "start_time": "09:00", "end_time": "11:00",
                                                      "location": "Aula", "capacity": "30"})
    assert response.status_code == 303
    bad = client.post("/community/events", data={"title": "Salah", "event_date": day, "start_time": "11:00",
                                                 "end_time": "09:00", "location": "Aula"})
    assert bad.status_code == 422 and "must end after it starts" in text(bad)
    student = signed_in_client(app, make_user("student"))
    event_url = response.headers["Location"]
    assert "Hari Scratch" in text(student.get("/community/events"))
    ics = student.get(event_url + ".ics")
    assert ics.status_code == 200 and ics.mimetype == "text/calendar" and b"SUMMARY:Hari Scratch" in ics.data
    assert student.post(event_url + "/rsvp", data={"status": "attending"}).status_code == 303
    token_link = re.search(r'href="(http://[^"]+/community/calendar/[^"]+\.ics)"',
                           text(student.get("/community/events"))).group(1)
    feed = app.test_client().get(token_link.split("localhost", 1)[1])  # a calendar app: no cookie
    assert feed.status_code == 200 and b"Hari Scratch" in feed.data


def test_muted_words_and_approval_are_set_by_staff_on_the_moderation_page(app, client, db, login_as):
    login_as("staff")
    saved = client.post("/community/moderation/settings", data={"posts_need_approval": "y",
                                                               "muted_words": "bodoh\njelek"})
    assert saved.status_code == 303
    student = signed_in_client(app, make_user("student"))
    refused = student.post("/community/posts", data={"content": "kamu bodoh", "where": "school"}, headers=HX)
    assert refused.status_code == 422 and "word the school does not allow" in text(refused)
    waiting = student.post("/community/posts", data={"content": "Halo semua", "where": "school"})
    assert "waits for approval" in flashes(student.get(waiting.headers["Location"]))[0]
    assert "Halo semua" in text(client.get("/community/moderation"))


def test_without_javascript_a_comment_and_an_rsvp_answer_with_303_and_a_flash(client, db, login_as):
    post = community.create_post(make_user("student"), content="Tanpa JS")
    event = community_events.create_event(make_user("instructor"), title="Temu kangen", description=None,
                                          event_date=school_today() + timedelta(days=2), start_time=time(10),
                                          end_time=time(11), online=True, location=None, capacity=None)
    login_as("student")
    comment = client.post(f"/community/posts/{post.id}/comments", data={"content": "Halo juga"})
    assert comment.status_code == 303 and comment.headers["Location"].endswith("#comments")
    page = client.get(comment.headers["Location"])
    assert "Comment added." in flashes(page) and "Halo juga" in text(page)
    answer = client.post(f"/community/events/{event.id}/rsvp", data={"status": "maybe"})
    assert answer.status_code == 303
    shown = client.get(answer.headers["Location"])
    assert "Your answer is saved." in flashes(shown) and "Your answer: Maybe" in re.sub(r"\s+", " ", text(shown)
                                                                                        .replace("<strong>", "")
                                                                                        .replace("</strong>", ""))
    bad = client.post(f"/community/events/{event.id}/rsvp", data={"status": "perhaps"}, headers=HX)
    assert bad.status_code == 422 and "Choose going, maybe or not going." in text(bad)


def test_a_post_of_someone_else_cannot_be_deleted_and_a_hidden_post_cannot_be_liked(app, client, db, login_as):
    post = community.create_post(make_user("student"), content="Bukan punyamu")
    login_as("student")
    assert client.post(f"/community/posts/{post.id}/delete").status_code == 403
    community.moderate_post(make_user("staff"), post.id, "remove", "Spam")
    assert client.post(f"/community/posts/{post.id}/like", headers=HX).status_code == 404
    assert reload(db, post).likes_count == 0


def test_the_creator_makes_a_member_admin_and_an_admin_may_then_invite(app, client, db, login_as):
    creator = login_as("instructor")
    group = community_groups.create_group(creator, name="Tim robot", join_policy="invitation")
    helper, newcomer = make_user("student"), make_user("student")
    community_groups.invite(creator, group.id, helper.email)
    community_groups.join(helper, group.id)
    helper_browser = signed_in_client(app, helper)
    refused = helper_browser.post(f"/community/groups/{group.id}/invite", data={"email": newcomer.email})
    assert refused.status_code == 403
    made = client.post(f"/community/groups/{group.id}/members/{helper.id}/role", data={"role": "admin"})
    assert made.status_code == 303 and community_groups.role_in(helper, group) == "admin"
    invited = helper_browser.post(f"/community/groups/{group.id}/invite", data={"email": newcomer.email})
    assert invited.status_code == 303
    assert "The invitation is sent." in flashes(helper_browser.get(invited.headers["Location"]))
    assert helper_browser.post(f"/community/groups/{group.id}/members/{creator.id}/role",
                               data={"role": "member"}).status_code == 403


def test_a_shared_drawing_is_drawn_as_svg_with_its_text_escaped(client, db, login_as):
    from babyowl.models import CodingSubmission
    from tests.factories import make_course

    author = login_as("student")
    exercise = make_course(lessons=1).sections[0].lessons[0].exercises[0]
    program = CodingSubmission(user_id=author.id, exercise_id=exercise.id, code="import turtle", passed=True)
    db.session.add(program)
    db.session.commit()
    drawing = '{"lines": [[0, 0, 50, 50, "red", 3]], "dots": [], "fills": [], "bg": "white", ' \
              '"texts": [[0, 0, "<script>alert(1)</script>", "blue", "left", 8]]}'
    response = client.post("/community/posts", data={"content": "Lihat", "where": "school",
                                                     "submission": str(program.id), "drawing": drawing})
    assert response.status_code == 303
    page = client.get("/community").get_data(as_text=True)
    assert '<line x1="0.0" y1="-0.0" x2="50.0" y2="-50.0" stroke="red"' in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;</text>" in page


@pytest.mark.parametrize("url, form", [
    ("/community/posts", {"content": "x", "where": "group:not-a-uuid"}),
    ("/community/posts", {"content": "x", "where": "class:00000000-0000-0000-0000-000000000000"}),
    ("/community/posts", {"content": "x", "where": "school", "submission": "nope"}),
    ("/community/posts", {"content": "x", "where": "school", "drawing": "{\"lines\": 5}"}),
    ("/community/posts", {"content": "x" * 6000, "where": "school"}),
    ("/community/groups", {"name": "", "join_policy": "closed"}),
    ("/community/events", {"title": "x", "event_date": "2026-13-45", "start_time": "25:00", "end_time": "x"}),
    ("/community/moderation/settings", {"muted_words": "x" * 100000}),
])
def test_bad_input_is_refused_and_never_a_500(client, db, login_as, url, form):
    login_as("staff")
    response = client.post(url, data=form, headers=HX)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    assert count(db, CommunityPost) == 0


def test_bad_ids_and_cursors_are_404_or_the_first_page(client, db, login_as):
    login_as("student")
    assert client.get("/community?cursor=%%%&show=nonsense").status_code == 200
    assert client.get("/community/posts/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/community/groups/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/community/events/00000000-0000-0000-0000-000000000000.ics").status_code == 404
    assert client.get("/community/calendar/forged.ics").status_code == 404
    assert client.get("/community/images/../../etc/passwd").status_code == 404
    assert client.get("/community/posts/00000000-0000-0000-0000-000000000000?page=x").status_code == 404


def test_asking_to_join_through_the_pages(app, client, db, login_as):
    creator = login_as("instructor")
    group = community_groups.create_group(creator, name="Tim lomba", join_policy="invitation")
    asker = make_user("student", full_name="Eko Saputra")
    browser = signed_in_client(app, asker)
    asked = browser.post(f"/community/groups/{group.id}/request")
    assert asked.status_code == 303
    page = browser.get(asked.headers["Location"])
    assert "Your request is sent to the group's admins." in flashes(page)
    assert "You asked to join" in text(page)
    assert "Eko Saputra" in text(client.get(f"/community/groups/{group.id}"))
    accepted = client.post(f"/community/groups/{group.id}/requests/{asker.id}", data={"decision": "accept"})
    assert accepted.status_code == 303
    assert community_groups.role_in(asker, group) == "member"
    assert browser.post(f"/community/groups/{group.id}/requests/{asker.id}",
                        data={"decision": "accept"}).status_code == 403


def test_an_invited_person_sees_accept_others_see_ask(app, client, db, login_as):
    creator = login_as("instructor")
    group = community_groups.create_group(creator, name="Undangan", join_policy="invitation")
    invited, stranger = make_user("student"), make_user("student")
    community_groups.invite(creator, group.id, invited.email)
    invited_page = text(signed_in_client(app, invited).get(f"/community/groups/{group.id}"))
    stranger_page = text(signed_in_client(app, stranger).get(f"/community/groups/{group.id}"))
    assert "Accept my invitation" in invited_page and "Ask to join" not in invited_page
    assert "Ask to join" in stranger_page and "Accept my invitation" not in stranger_page


def test_the_author_edits_a_post_with_the_same_rules_as_writing_it(app, client, db, login_as):
    author = login_as("student")
    post = community.create_post(author, content="Awal")
    show = text(client.get(f"/community/posts/{post.id}"))
    assert f'href="/community/posts/{post.id}/edit"' in show
    form = client.get(f"/community/posts/{post.id}/edit")
    assert form.status_code == 200 and "Awal</textarea>" in text(form)
    empty = client.post(f"/community/posts/{post.id}/edit", data={"content": "  "})
    assert empty.status_code == 422 and reload(db, post).content == "Awal"
    saved = client.post(f"/community/posts/{post.id}/edit", data={"content": "**Baru** <script>x</script>"})
    assert saved.status_code == 303 and saved.headers["Location"] == f"/community/posts/{post.id}"
    page = client.get(saved.headers["Location"])
    html = page.get_data(as_text=True)
    assert "Your post is saved." in flashes(page) and "<strong>Baru</strong>" in html
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    other = signed_in_client(app, make_user("student"))
    assert other.get(f"/community/posts/{post.id}/edit").status_code == 403
    assert other.post(f"/community/posts/{post.id}/edit", data={"content": "Punyaku"}).status_code == 403
    assert reload(db, post).content == "**Baru** <script>x</script>"
