"""Community rules, each next to its refusal: scopes, groups, events, moderation, notifications, privacy."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import time, timedelta

import pytest
from icalendar import Calendar
from PIL import Image
from sqlalchemy import func, select

from babyowl.models import (
    CodingSubmission, CommunityComment, CommunityEventRSVP, CommunityGroupMember, CommunityPost, CommunityPostImage,
    CommunityReport, Notification,
)
from babyowl.models import XPTransaction
from babyowl.models.base import utcnow
from babyowl.services import community, community_events, community_groups, privacy
from babyowl.services.community import NotFound, PostRefused
from babyowl.services.community_events import EventFull, EventOver
from babyowl.services.community_groups import GroupRefused
from babyowl.services.errors import InvalidInput, NotAllowed
from babyowl.storage import get_storage
from babyowl.services.school_time import in_school_time, school_today
from tests.factories import make_class, make_course, make_enrollment, make_user
from tests.helpers import reload


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def ids(page) -> list:
    return [post.id for post in page.posts]


def png(colour="red") -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "PNG")
    buffer.seek(0)
    return buffer


# --- posts, scopes and sanitising ------------------------------------------------------

def test_markdown_is_sanitised_and_a_script_is_inert(db):
    author = make_user("student")
    post = community.create_post(author, content="**Hore**\n<script>alert(1)</script>\n<img src=x onerror=alert(2)>")
    post = reload(db, post)
    assert post.content_html.startswith("<p><strong>Hore</strong>")
    assert "<script>" not in post.content_html and "<img" not in post.content_html
    assert "&lt;script&gt;" in post.content_html  # shown as text


def test_class_posts_are_seen_by_the_class_only_and_outsiders_cannot_post_there(db):
    teacher = make_user("instructor")
    school_class = make_class(instructor=teacher)
    student = make_enrollment(school_class).student
    outsider = make_user("student")
    post = community.create_post(student, content="Untuk kelas", scope="class", target_id=school_class.id)
    assert post.id in ids(community.feed(teacher, show="classes"))
    assert post.id not in ids(community.feed(outsider))
    with pytest.raises(NotFound):
        community.open_post(outsider, post.id)
    with pytest.raises(NotFound):
        community.create_post(outsider, content="Masuk", scope="class", target_id=school_class.id)
    assert post.id in ids(community.feed(make_user("staff")))


def test_a_non_member_cannot_post_in_a_group(db):
    teacher = make_user("instructor")
    group = community_groups.create_group(teacher, name="Klub Turtle")
    outsider = make_user("student")
    with pytest.raises(NotAllowed, match="Only members of this group can post in it"):
        community.create_post(outsider, content="Boleh?", scope="group", target_id=group.id)
    assert count(db, CommunityPost) == 0
    community_groups.join(outsider, group.id)
    post = community.create_post(outsider, content="Sekarang boleh", scope="group", target_id=group.id)
    assert ids(community.feed(outsider, group_id=group.id)) == [post.id]
    assert ids(community.feed(outsider, show="groups")) == [post.id]
    assert post.id not in ids(community.feed(make_user("student")))  # not a member: not in their feed


def test_only_ones_own_coding_submission_can_be_shared(db):
    author, other = make_user("student"), make_user("student")
    exercise = make_course(lessons=1).sections[0].lessons[0].exercises[0]
    mine = CodingSubmission(user_id=author.id, exercise_id=exercise.id, code="print('halo')", passed=True)
    theirs = CodingSubmission(user_id=other.id, exercise_id=exercise.id, code="print('x')")
    db.session.add_all([mine, theirs])
    db.session.commit()
    with pytest.raises(NotFound):
        community.create_post(author, content="Lihat", coding_submission_id=theirs.id)
    post = community.create_post(author, content="Lihat", coding_submission_id=mine.id)
    assert reload(db, post).coding_submission.code == "print('halo')"


def test_pictures_are_re_encoded_at_most_four_and_non_pictures_refused(app, db):
    author = make_user("student")
    post = community.create_post(author, content="Foto", images=[png(), png("blue")])
    keys = [image.storage_key for image in reload(db, post).images]
    assert len(keys) == 2 and all(key.startswith("community/") and key.endswith(".jpg") for key in keys)
    with pytest.raises(InvalidInput, match="at most 4 pictures"):
        community.create_post(author, content="Banyak", images=[png() for _ in range(5)])
    with pytest.raises(InvalidInput, match="not a picture"):
        community.create_post(author, content="Bukan", images=[io.BytesIO(b"<script>alert(1)</script>")])
    assert count(db, CommunityPostImage) == 2


def test_a_refused_post_leaves_no_stored_picture(app, db, tmp_path):
    author = make_user("student")
    group = community_groups.create_group(make_user("instructor"), name="Tertutup")
    with pytest.raises(NotAllowed):
        community.create_post(author, content="x", scope="group", target_id=group.id, images=[png()])
    stored = [p for p in (tmp_path / "uploads").rglob("*.jpg")] if (tmp_path / "uploads").exists() else []
    assert stored == []


# --- the feed's cursor -----------------------------------------------------------------

def test_cursor_paging_never_repeats_or_skips_when_posts_arrive_between_pages(db):
    author = make_user("student")
    reader_ = make_user("student")
    start = utcnow() - timedelta(hours=1)
    made = []
    for n in range(7):
        post = community.create_post(author, content=f"Post {n}")
        post.created_at = start + timedelta(minutes=n // 2)  # pairs share a moment: the id breaks the tie
        made.append(post)
    db.session.commit()
    first = community.feed(reader_, limit=3)
    for n in range(4):  # new posts arrive while the reader scrolls
        community.create_post(author, content=f"Baru {n}")
    seen = ids(first)
    cursor = first.next_cursor
    while cursor:
        page = community.feed(reader_, cursor=cursor, limit=3)
        seen += ids(page)
        cursor = page.next_cursor
    expected = [p.id for p in sorted(made, key=lambda p: (p.created_at, p.id), reverse=True)]
    assert seen == expected
    assert community.feed(reader_, cursor="not-a-cursor", limit=20).posts  # a mangled cursor is the first page


# --- likes and comments ------------------------------------------------------------------

def test_a_like_is_counted_once_and_unlike_takes_it_back(db):
    author, fan = make_user("student"), make_user("student")
    post = community.create_post(author, content="Suka?")
    community.like(fan, post.id)
    community.like(fan, post.id)  # a double tap
    assert reload(db, post).likes_count == 1
    community.unlike(fan, post.id)
    assert reload(db, post).likes_count == 0


def test_likes_reach_the_author_as_one_digest_never_one_per_like(db):
    author = make_user("student", full_name="Andi")
    post = community.create_post(author, content="Gambar kura-kura")
    fans = [make_user("student", full_name=f"Teman {n}") for n in range(5)]
    for fan in fans:
        community.like(fan, post.id)
    community.like(author, post.id)  # one's own like tells nobody
    assert count(db, Notification, Notification.type == "community_likes") == 0
    assert community.send_like_digests() == 1
    assert community.send_like_digests() == 0  # nothing new: nothing sent
    notes = db.session.scalars(select(Notification).where(Notification.type == "community_likes")).all()
    assert len(notes) == 1 and notes[0].user_id == author.id and "4 others liked your post" in notes[0].message
    community.like(make_user("student"), post.id)
    assert community.send_like_digests() == 1


def test_a_comment_notifies_the_author_and_comments_are_paged(db):
    author, friend = make_user("student"), make_user("student", full_name="Dewi")
    post = community.create_post(author, content="Halo")
    for n in range(community.COMMENTS_PAGE + 1):
        community.add_comment(friend, post.id, f"Komentar {n}")
    assert reload(db, post).comments_count == community.COMMENTS_PAGE + 1
    notes = db.session.scalars(select(Notification).where(Notification.user_id == author.id)).all()
    assert len(notes) == community.COMMENTS_PAGE + 1 and notes[0].message.startswith("Dewi commented")
    page2 = community.comments_page(reload(db, post), 2)
    assert [c.content for c in page2.items] == [f"Komentar {community.COMMENTS_PAGE}"]
    with pytest.raises(InvalidInput):
        community.add_comment(friend, post.id, "   ")


def test_authors_delete_their_own_posts_and_comments_only(db):
    author, other = make_user("student"), make_user("student")
    post = community.create_post(author, content="Punyaku")
    comment = community.add_comment(other, post.id, "Punyanya")
    with pytest.raises(NotAllowed):
        community.delete_own_post(other, post.id)
    with pytest.raises(NotAllowed):
        community.delete_own_comment(author, comment.id)
    community.delete_own_comment(other, comment.id)
    assert reload(db, post).comments_count == 0
    community.delete_own_post(author, post.id)
    post = reload(db, post)
    assert post.status == "deleted" and post.moderated_by == author.id and post.moderated_at is not None
    assert ids(community.feed(other)) == []


# --- moderation -------------------------------------------------------------------------

def test_report_then_hide_takes_the_post_out_of_every_feed_and_its_notifications(db):
    author, reporter, staff = make_user("student"), make_user("student"), make_user("staff")
    teacher = make_user("instructor")
    group = community_groups.create_group(teacher, name="Klub")
    community_groups.join(author, group.id)
    post = community.create_post(author, content="Kata kasar", scope="group", target_id=group.id)
    community.add_comment(teacher, post.id, "Hmm")
    assert count(db, Notification, Notification.reference_id == post.id) == 1
    with pytest.raises(NotFound):  # not a member: cannot see it, so cannot report it
        community.report(reporter, post_id=post.id, reason="Kasar")
    community_groups.join(reporter, group.id)
    community.report(reporter, post_id=post.id, reason="Kasar")
    community.report(reporter, post_id=post.id, reason="Kasar sekali")  # again: nothing new
    queue = community.moderation_queue(staff)
    assert [(r.post.content, r.reporter_id, r.reason) for r in queue.post_reports] == [
        ("Kata kasar", reporter.id, "Kasar")]
    with pytest.raises(NotAllowed):
        community.moderation_queue(author)
    with pytest.raises(NotAllowed):
        community.moderate_post(teacher, post.id, "hide", "Kasar")
    with pytest.raises(InvalidInput, match="reason"):
        community.moderate_post(staff, post.id, "hide", "")
    community.moderate_post(staff, post.id, "hide", "Bahasa kasar")
    post = reload(db, post)
    assert (post.status, post.moderated_by, post.moderation_reason) == ("hidden", staff.id, "Bahasa kasar")
    for who in (author, reporter, teacher):
        assert post.id not in ids(community.feed(who, group_id=group.id))
        assert post.id not in ids(community.feed(who))
        with pytest.raises(NotFound):
            community.open_post(who, post.id)
    assert count(db, Notification, Notification.reference_id == post.id) == 0
    assert community.moderation_queue(staff).post_reports == []
    assert db.session.scalar(select(CommunityReport.status)) == "resolved"


def test_a_reported_comment_is_removed_with_a_reason_and_uncounted(db):
    author, rude, staff = make_user("student"), make_user("student"), make_user("staff")
    post = community.create_post(author, content="Halo")
    comment = community.add_comment(rude, post.id, "Jelek")
    community.report(author, comment_id=comment.id, reason="Mengejek")
    assert [r.comment.content for r in community.moderation_queue(staff).comment_reports] == ["Jelek"]
    community.moderate_comment(staff, comment.id, "remove", "Mengejek teman")
    assert reload(db, comment).status == "removed" and reload(db, post).comments_count == 0
    assert count(db, Notification, Notification.user_id == author.id) == 0
    assert community.comments_page(reload(db, post), 1).items == []


def test_students_posts_wait_for_approval_when_the_school_says_so(db):
    staff, student, teacher = make_user("staff"), make_user("student"), make_user("instructor")
    assert community.settings().posts_need_approval is False  # off by default
    with pytest.raises(NotAllowed):
        community.save_settings(student, posts_need_approval=True, muted_words=[])
    community.save_settings(staff, posts_need_approval=True, muted_words=[])
    post = community.create_post(student, content="Tunggu dulu")
    assert post.status == "pending"
    assert community.create_post(teacher, content="Langsung").status == "published"
    assert post.id not in ids(community.feed(make_user("student")))
    assert [p.id for p in community.my_pending_posts(student)] == [post.id]
    with pytest.raises(PostRefused):
        community.add_comment(staff, post.id, "x")
    community.moderate_post(staff, post.id, "approve")
    assert post.id in ids(community.feed(make_user("student")))


def test_a_first_published_post_earns_xp_once_and_likes_and_comments_earn_nothing(db):
    staff, author, friend = make_user("staff"), make_user("student"), make_user("student")
    community.save_settings(staff, posts_need_approval=True, muted_words=[])
    waiting = community.create_post(author, content="Karya pertamaku")
    assert xp_rows(db, author) == []  # not seen by anyone yet
    community.moderate_post(staff, waiting.id, "approve")
    assert xp_rows(db, author) == [("community_post", 15)]
    community.save_settings(staff, posts_need_approval=False, muted_words=[])
    second = community.create_post(author, content="Karya kedua")
    community.like(friend, second.id)
    community.add_comment(friend, second.id, "Keren!")
    assert xp_rows(db, author) == [("community_post", 15)]


def xp_rows(db, user):
    return [tuple(row) for row in db.session.execute(
        select(XPTransaction.reason, XPTransaction.amount).where(XPTransaction.user_id == user.id))]


def test_muted_words_are_refused_in_posts_and_comments(db):
    staff, student = make_user("staff"), make_user("student")
    community.save_settings(staff, posts_need_approval=False,
                            muted_words=community.parse_muted_words("bodoh\nJELEK, bodoh"))
    assert community.settings().muted_words == ["bodoh", "jelek"]
    with pytest.raises(PostRefused, match="word the school does not allow"):
        community.create_post(student, content="Kamu Bodoh!")
    post = community.create_post(student, content="Kebodohan bukan kata terlarang")  # whole words only
    with pytest.raises(PostRefused):
        community.add_comment(student, post.id, "jelek")


# --- study groups ------------------------------------------------------------------------

def test_a_student_cannot_create_a_group_directly_staff_approve_the_request(db):
    student, staff = make_user("student"), make_user("staff")
    group = community_groups.create_group(student, name="Belajar bareng")
    assert group.status == "requested" and count(db, CommunityGroupMember) == 0
    other = make_user("student")
    with pytest.raises(NotFound):
        community_groups.group_for(other, group.id)
    with pytest.raises(NotAllowed):
        community_groups.review_request(student, group.id, True)
    community_groups.review_request(staff, group.id, True)
    group = reload(db, group)
    assert group.status == "active" and group.members_count == 1
    assert community_groups.role_in(student, group) == "creator"
    with pytest.raises(GroupRefused):
        community_groups.review_request(staff, group.id, False)


def test_invitation_groups_are_joined_by_invitation_and_the_invitee_is_notified(db):
    teacher = make_user("instructor")
    group = community_groups.create_group(teacher, name="Tim lomba", join_policy="invitation")
    student, member = make_user("student"), make_user("student")
    with pytest.raises(NotAllowed, match="invitation only"):
        community_groups.join(student, group.id)
    community_groups.invite(teacher, group.id, student.email)
    note = db.session.scalar(select(Notification).where(Notification.user_id == student.id))
    assert note.type == "group_invitation" and "Tim lomba" in note.message
    community_groups.join(student, group.id)
    with pytest.raises(NotAllowed):  # a plain member does not invite
        community_groups.invite(student, group.id, member.email)
    with pytest.raises(InvalidInput):
        community_groups.invite(teacher, group.id, "nobody@example.com")
    with pytest.raises(GroupRefused):
        community_groups.leave(teacher, group.id)  # the creator stays
    community_groups.leave(student, group.id)
    assert reload(db, group).members_count == 1


# --- events ---------------------------------------------------------------------------------

def _event(creator, days=7, capacity=None, **fields):
    return community_events.create_event(
        creator, title=fields.pop("title", "Workshop turtle"), description="Bawa laptop",
        event_date=school_today() + timedelta(days=days), start_time=fields.pop("start", time(9)),
        end_time=time(11), online=fields.pop("online", False), location=fields.pop("location", "Ruang 2"),
        capacity=capacity)


def test_only_instructors_and_staff_create_events_and_bad_times_are_refused(db):
    teacher = make_user("instructor")
    with pytest.raises(NotAllowed):
        _event(make_user("student"))
    with pytest.raises(InvalidInput, match="end after it starts"):
        community_events.create_event(teacher, title="x", description=None, event_date=school_today(),
                                      start_time=time(11), end_time=time(10), online=True, location=None,
                                      capacity=None)
    with pytest.raises(InvalidInput, match="future"):
        _event(teacher, days=-1)
    with pytest.raises(InvalidInput, match="where"):
        _event(teacher, location="")
    online = _event(teacher, online=True, location="")
    assert online.location == "Online"


def test_capacity_makes_an_event_full_and_changing_ones_answer_frees_a_place(db):
    event = _event(make_user("instructor"), capacity=2)
    first, second, third = (make_user("student") for _ in range(3))
    community_events.rsvp(first, event.id, "attending")
    community_events.rsvp(second, event.id, "attending")
    assert community_events.is_full(reload(db, event))
    with pytest.raises(EventFull, match="full"):
        community_events.rsvp(third, event.id, "attending")
    community_events.rsvp(third, event.id, "maybe")  # maybe is always possible
    community_events.rsvp(second, event.id, "attending")  # the same answer again: still fine
    community_events.rsvp(first, event.id, "declined")
    community_events.rsvp(third, event.id, "attending")
    assert reload(db, event).attendees_count == 2
    assert count(db, CommunityEventRSVP, CommunityEventRSVP.event_id == event.id) == 3
    with pytest.raises(InvalidInput):
        community_events.rsvp(first, event.id, "perhaps")


def _soon(teacher, hours: int):
    """An event starting in about `hours` hours (school time), ending the same day."""
    local = in_school_time(utcnow() + timedelta(hours=hours))
    if local.hour == 23:
        local -= timedelta(hours=1)
    start = local.time().replace(second=0, microsecond=0)
    return community_events.create_event(teacher, title="Besok", description=None, event_date=local.date(),
                                         start_time=start, end_time=time(23, 59), online=True, location=None,
                                         capacity=None)


def test_the_reminder_goes_once_the_day_before_to_those_coming(db, app):
    teacher = make_user("instructor")
    tomorrow = _soon(teacher, 12)
    later = _event(teacher, days=5)
    going, maybe, no = (make_user("student") for _ in range(3))
    for event in (tomorrow, later):
        community_events.rsvp(going, event.id, "attending")
    community_events.rsvp(maybe, tomorrow.id, "maybe")
    community_events.rsvp(no, tomorrow.id, "declined")
    assert community_events.send_event_reminders() == 1
    assert community_events.send_event_reminders() == 0
    reminded = db.session.scalars(select(Notification.user_id).where(Notification.type == "event_reminder")).all()
    assert sorted(reminded) == sorted([going.id, maybe.id])
    assert reload(db, tomorrow).reminder_sent_at is not None and reload(db, later).reminder_sent_at is None


def test_an_event_has_an_ics_and_a_person_a_calendar_feed(db, app):
    teacher, student = make_user("instructor"), make_user("student")
    event = _event(teacher, title="Hari coding")
    other = _event(teacher, title="Tidak ikut")
    community_events.rsvp(student, event.id, "attending")
    community_events.rsvp(student, other.id, "declined")
    single = Calendar.from_ical(community_events.event_ics(event))
    [item] = single.walk("VEVENT")
    assert str(item["summary"]) == "Hari coding"
    assert item.decoded("dtstart") == community_events.starts_at(event)  # the school's 09:00, as a UTC instant
    feed = Calendar.from_ical(community_events.personal_ics(student))
    assert [str(e["summary"]) for e in feed.walk("VEVENT")] == ["Hari coding"]
    token = community_events.calendar_token(student)
    assert community_events.calendar_owner(token).id == student.id
    with pytest.raises(NotFound):
        community_events.calendar_owner(token + "x")


def test_no_rsvp_once_the_event_has_started(db):
    event = _event(make_user("instructor"))
    event.event_date = school_today() - timedelta(days=1)
    db.session.commit()
    with pytest.raises(EventOver):
        community_events.rsvp(make_user("student"), event.id, "attending")


# --- privacy ------------------------------------------------------------------------------

def test_export_has_the_persons_community_data_and_erasure_removes_it(app, db):
    student, friend, admin = make_user("student"), make_user("student"), make_user("super_admin")
    group = community_groups.create_group(make_user("instructor"), name="Klub")
    community_groups.join(student, group.id)
    event = _event(make_user("instructor"))
    community_events.rsvp(student, event.id, "attending")
    own = community.create_post(student, content="Karyaku", images=[png()])
    theirs = community.create_post(friend, content="Punya teman")
    community.like(student, theirs.id)
    community.add_comment(student, theirs.id, "Bagus!")
    community.add_comment(friend, own.id, "Keren")
    community.report(student, post_id=theirs.id, reason="Tes")

    archive = zipfile.ZipFile(io.BytesIO(privacy.export_user_data(student)))
    data = json.loads(archive.read("data.json"))
    assert [p["content"] for p in data["community_posts"]] == ["Karyaku"]
    assert data["community_posts"][0]["images"][0] in archive.namelist()
    assert [c["content"] for c in data["community_comments"]] == ["Bagus!"]
    assert len(data["community_post_likes"]) == 1 and data["community_groups"][0]["name"] == "Klub"
    assert data["community_event_rsvps"][0]["status"] == "attending"
    assert data["community_reports"][0]["reason"] == "Tes"

    picture_key = reload(db, own).images[0].storage_key
    assert get_storage().exists(picture_key)
    privacy.erase_user(admin, student)
    assert not get_storage().exists(picture_key)  # the file goes after the commit
    assert count(db, CommunityPost, CommunityPost.author_id == student.id) == 0
    assert count(db, CommunityComment, CommunityComment.author_id == student.id) == 0  # removed, not anonymised
    assert count(db, CommunityPostImage) == 0
    theirs, group, event = reload(db, theirs), reload(db, group), reload(db, event)
    assert (theirs.likes_count, theirs.comments_count) == (0, 0)
    assert group.members_count == 1 and event.attendees_count == 0


def test_the_demo_school_has_posts_a_group_and_an_upcoming_event(app, db):
    from babyowl.demo import seed_demo
    from babyowl.models import CommunityEvent, CommunityGroup, User

    seed_demo()
    seed_demo()  # idempotent
    andi = db.session.scalar(select(User).where(User.email == "andi@babyowl.example"))
    page = community.feed(andi)
    assert len(page.posts) == 3 and sum(p.likes_count for p in page.posts) == 6
    assert count(db, CommunityGroup) == 1 and count(db, CommunityEvent) == 1
    event = db.session.scalar(select(CommunityEvent))
    assert event.attendees_count == 2 and event.event_date > school_today()
    outsider = [p.scope for p in community.feed(make_user("student")).posts]
    assert outsider == ["school"]  # neither in the class nor in the group


def test_a_turtle_drawing_is_rebuilt_from_numbers_and_checked_colours_and_needs_its_program(db):
    author = make_user("student")
    exercise = make_course(lessons=1).sections[0].lessons[0].exercises[0]
    program = CodingSubmission(user_id=author.id, exercise_id=exercise.id, code="import turtle", passed=True)
    db.session.add(program)
    db.session.commit()
    record = json.dumps({"lines": [[0, 0, 100, 0, "red", 2], [100, 0, 100, 100, "url(javascript:alert(1))", 2]],
                         "dots": [[0, 0, 8, "#00ff00"]], "fills": [[[[0, 0], [10, 0], [0, 10]], "rgb(1, 2, 3)"]],
                         "texts": [[5, 5, "<script>alert(1)</script>", "blue", "center", 8]], "bg": "white"})
    with pytest.raises(InvalidInput, match="with the program"):
        community.create_post(author, content="Tanpa program", drawing=record)
    post = community.create_post(author, content="Gambarku", coding_submission_id=program.id, drawing=record)
    drawing = reload(db, post).drawing
    assert drawing["lines"][0] == [0, 0, 100, 0, "red", 2]
    assert drawing["lines"][1][4] == "black"  # not a colour: replaced, never passed on
    assert drawing["fills"][0][1] == "rgb(1, 2, 3)" and drawing["texts"][0][2] == "<script>alert(1)</script>"
    assert community.drawing_box(drawing) == "-20 -120 140 140"
    for bad in ('{"lines": [["x", 0, 1, 1, "red", 1]]}', "not json", '{"lines": [[1e9, 0, 1, 1, "red", 1]]}',
                json.dumps({"lines": [[0, 0, 1, 1, "red", 1]] * (community.MAX_DRAWING_ITEMS + 1)})):
        with pytest.raises(InvalidInput):
            community.create_post(author, content="x", coding_submission_id=program.id, drawing=bad)


def test_a_student_asks_to_join_an_invitation_group_and_an_admin_decides(db):
    teacher = make_user("instructor")
    group = community_groups.create_group(teacher, name="Tim olimpiade", join_policy="invitation")
    asker, other = make_user("student"), make_user("student")
    community_groups.request_to_join(asker, group.id)
    community_groups.request_to_join(asker, group.id)  # asking twice: one request
    with pytest.raises(NotAllowed, match="invitation only"):
        community_groups.join(asker, group.id)  # a request is not an invitation
    with pytest.raises(NotAllowed):
        community_groups.answer_request(other, group.id, asker.id, True)
    assert [r.user_id for r in community_groups.join_requests(group)] == [asker.id]
    community_groups.answer_request(teacher, group.id, asker.id, True)
    assert community_groups.role_in(asker, group) == "member" and reload(db, group).members_count == 2
    with pytest.raises(NotFound):
        community_groups.answer_request(teacher, group.id, asker.id, True)  # already decided
    with pytest.raises(GroupRefused, match="open"):
        community_groups.request_to_join(other, community_groups.create_group(teacher, name="Terbuka").id)
