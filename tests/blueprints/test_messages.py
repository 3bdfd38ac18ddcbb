"""The message pages as people use them: the list, a conversation, the composer, polling, moderation, files.

Attachments run against local storage and against S3 (boto3 talking to moto's server, as in
tests/storage_fixtures.py)."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from babyowl.models import ConversationReadAudit, Message
from babyowl.services import messages
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import flashes, signed_in_client, text

HX = {"HX-Request": "true"}


@pytest.fixture
def school(db):
    budi = make_user("instructor", full_name="Budi Guru")
    siti, andi = make_user("student", full_name="Siti Aminah"), make_user("student", full_name="Andi Wijaya")
    python = make_class(instructor=budi, name="Python Sabtu")
    make_enrollment(python, siti)
    make_enrollment(python, andi)
    class_id = messages.sync_class_conversation(python)
    db.session.commit()
    return SimpleNamespace(budi=budi, siti=siti, andi=andi, python=python, class_conversation=class_id)


def sign_in(client, user):
    from tests.factories import cookie_id_for

    with client.session_transaction() as session:
        session["_user_id"] = cookie_id_for(user)
        session["_fresh"] = True


def test_the_list_says_who_a_student_can_reach(client, db, school):
    sign_in(client, school.siti)
    page = text(client.get("/messages"))
    assert "Python Sabtu" in page  # the class conversation
    assert "Write to Budi Guru" in page and "Write to Andi Wijaya" not in page
    assert "You can write to the instructors of your classes and to the school staff." in page


def test_a_student_starting_a_conversation_with_a_classmate_is_told_why_not(client, db, school):
    sign_in(client, school.siti)
    response = client.post("/messages/new", data={"user_id": str(school.andi.id)}, headers=HX)
    assert response.status_code == 409
    assert "Students talk to each other only in their class conversation" in text(response)
    plain = client.post("/messages/new", data={"user_id": str(school.andi.id)})
    assert plain.status_code == 303
    assert any("class conversation" in f for f in flashes(client.get(plain.headers["Location"])))


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_a_student_writes_to_their_instructor_who_sees_it_and_reads_it(app, client, db, school, htmx):
    sign_in(client, school.siti)
    started = client.post("/messages/new", data={"user_id": str(school.budi.id)})
    assert started.status_code == 303
    url = started.headers["Location"]
    conversation_id = url.rsplit("/", 1)[1]
    response = client.post(url, data={"text": "Pak, saya **izin** Sabtu <script>x</script>", "after": ""},
                           headers=HX if htmx else {})
    if htmx:
        fragment = text(response)
        assert response.status_code == 200 and "<html" not in fragment
        assert 'id="composer"' in fragment and 'hx-swap-oob="beforebegin:#poller"' in fragment
        assert "<strong>izin</strong>" in fragment and "<script>" not in response.get_data(as_text=True)
        assert response.headers["HX-Trigger"] == "messages-changed"
    else:
        assert response.status_code == 303 and response.headers["Location"] == url

    teacher = signed_in_client(app, school.budi)
    assert "1 unread message" in text(teacher.get("/messages/badge"))
    page = text(teacher.get(url))
    assert "Pak, saya" in page and "<strong>izin</strong>" in page and "&lt;script&gt;" not in page.replace(
        "<script>x", "")
    assert "bell-count" not in text(teacher.get("/messages/badge"))
    assert messages.unread_total(school.budi) == 0
    # Siti's page now says the message was seen.
    assert 'id="seen"' in text(client.get(url)) and conversation_id


def test_polling_returns_only_new_messages_and_204_when_none(app, client, db, school):
    sign_in(client, school.andi)
    first = messages.send_message(school.siti, school.class_conversation, "Satu")
    url = f"/messages/{school.class_conversation}/new"
    response = client.get(f"{url}?after={first.id}", headers=HX)
    assert response.status_code == 204
    second = messages.send_message(school.budi, school.class_conversation, "Dua dari guru")
    response = client.get(f"{url}?after={first.id}", headers=HX)
    fragment = text(response)
    assert response.status_code == 200 and "Dua dari guru" in fragment and "Satu" not in fragment
    assert f"after={second.id}" in fragment  # the poller moves on
    assert f"message_id={second.id}" in fragment  # and marks them read once shown
    read = client.post(f"/messages/{school.class_conversation}/read?message_id={second.id}", headers=HX)
    assert read.status_code == 204 and read.headers["HX-Trigger"] == "messages-changed"
    assert messages.unread_total(school.andi) == 0
    # Someone outside the conversation learns nothing from polling it.
    stranger = signed_in_client(app, make_user("student"))
    assert stranger.get(f"{url}?after={first.id}", headers=HX).status_code == 204
    assert stranger.get(f"/messages/{school.class_conversation}").status_code == 404


def test_the_conversation_page_shows_the_newest_and_loads_older_pages(client, db, school):
    from datetime import timedelta

    from babyowl.models.base import utcnow

    base = utcnow() - timedelta(hours=2)
    db.session.add_all([Message(conversation_id=school.class_conversation, sender_id=school.siti.id,
                                content=f"pesan-{n:02d}", content_html=f"<p>pesan-{n:02d}</p>",
                                created_at=base + timedelta(seconds=n)) for n in range(45)])
    db.session.commit()
    sign_in(client, school.andi)
    page = text(client.get(f"/messages/{school.class_conversation}"))
    assert "pesan-44" in page and "pesan-15" in page and "pesan-14" not in page
    older_url = re.search(r'hx-get="([^"]*before=[^"]*)"', page).group(1)
    older = text(client.get(older_url, headers=HX))
    assert "pesan-00" in older and "pesan-14" in older and "pesan-15" not in older and "Older messages" not in older
    # Without htmx the link opens the older page whole, without a poller (nothing to wait for there).
    plain = text(client.get(older_url))
    assert "pesan-00" in plain and "pesan-15" not in plain and 'id="poller"' not in plain
    assert 'id="poller"' in page


def test_the_page_costs_the_same_number_of_queries_however_many_messages(client, db, school, count_queries):
    from datetime import timedelta

    from babyowl.models.base import utcnow

    sign_in(client, school.andi)
    url = f"/messages/{school.class_conversation}"

    def add(n):
        base = utcnow() - timedelta(hours=1)
        db.session.add_all([Message(conversation_id=school.class_conversation, sender_id=school.siti.id,
                                    content=f"m{i}", content_html=f"<p>m{i}</p>",
                                    created_at=base + timedelta(seconds=i)) for i in range(n)])
        db.session.commit()

    def cost():
        with count_queries() as statements:
            assert client.get(url).status_code == 200
            assert client.get(f"{url}/new?after=00000000-0000-0000-0000-000000000000", headers=HX).status_code
            assert client.get("/messages").status_code == 200
            assert client.get("/messages/badge").status_code == 200
        return statements

    add(2)
    cost()  # the first visit sets the read pointer; later ones move it on
    add(2)
    few = cost()
    add(80)
    many = cost()
    assert len(many) == len(few), "\n".join(s for s in many if s not in few)


def test_staff_read_is_logged_and_shown_to_super_admin_only(app, client, db, school):
    staff = make_user("staff", full_name="Staf TU")
    reader = signed_in_client(app, staff)
    page = text(reader.get(f"/messages/{school.class_conversation}"))
    assert "This read is logged" in page
    assert db.session.scalar(select(func.count()).select_from(ConversationReadAudit)) == 1
    assert reader.get("/messages/audit").status_code == 403
    admin = signed_in_client(app, make_user("super_admin"))
    audit = text(admin.get("/messages/audit"))
    assert "Staf TU" in audit and "Python Sabtu" in audit


def test_report_then_a_moderator_removes_it_and_everyone_sees_why(app, client, db, school):
    bad = messages.send_message(school.andi, school.class_conversation, "Kata kasar")
    sign_in(client, school.siti)
    empty = client.post(f"/messages/m/{bad.id}/report", data={"reason": " "})
    assert empty.status_code == 422 and "Say what is wrong with this message." in text(empty)
    response = client.post(f"/messages/m/{bad.id}/report", data={"reason": "Dia kasar"})
    assert response.status_code == 303
    staff = signed_in_client(app, make_user("staff"))
    queue = text(staff.get("/messages/reports"))
    assert "Dia kasar" in queue and "Kata kasar" in queue
    removed = staff.post(f"/messages/m/{bad.id}/remove", data={"reason": "Bahasa kasar", "next": "reports"})
    assert removed.status_code == 303
    assert "No open reports." in text(staff.get("/messages/reports"))
    page = text(client.get(f"/messages/{school.class_conversation}"))
    assert "Removed by a moderator" in page and "Kata kasar" not in page and "Bahasa kasar" not in page


def test_a_sender_deletes_their_message_with_htmx(client, db, school):
    sign_in(client, school.siti)
    mine = messages.send_message(school.siti, school.class_conversation, "Salah kirim")
    response = client.post(f"/messages/m/{mine.id}/delete", headers=HX)
    assert response.status_code == 200 and "Message deleted" in text(response)
    other = messages.send_message(school.andi, school.class_conversation, "Punya Andi")
    assert client.post(f"/messages/m/{other.id}/delete").status_code == 403


def test_polling_and_the_badge_are_never_rate_limited_but_pages_are(make_app, db, school):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_APPLICATION="3 per minute")
    browser = signed_in_client(limited, school.andi)
    poll = f"/messages/{school.class_conversation}/new"
    assert {browser.get(poll, headers=HX).status_code for _ in range(6)} == {204}
    assert {browser.get("/messages/badge").status_code for _ in range(6)} == {200}
    assert 429 in {browser.get("/messages").status_code for _ in range(6)}


def test_starting_the_same_conversation_in_parallel_makes_one(app, db, school):
    from concurrent.futures import ThreadPoolExecutor

    from babyowl.models import Conversation, ConversationMember

    browsers = [signed_in_client(app, school.siti), signed_in_client(app, school.budi)] * 3
    other = {school.siti.id: school.budi.id, school.budi.id: school.siti.id}
    people = [school.siti.id, school.budi.id] * 3

    def start(n):
        return browsers[n].post("/messages/new", data={"user_id": str(other[people[n]])})

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(start, range(6)))
    assert {r.status_code for r in responses} == {303} and len({r.headers["Location"] for r in responses}) == 1
    direct = db.session.scalars(select(Conversation).where(Conversation.kind == "direct")).all()
    assert len(direct) == 1
    assert db.session.scalar(select(func.count()).select_from(ConversationMember).where(
        ConversationMember.conversation_id == direct[0].id)) == 2


def test_two_tabs_marking_read_in_parallel_leave_the_pointer_at_the_newest(app, db, school):
    from concurrent.futures import ThreadPoolExecutor

    from babyowl.models import ConversationMember

    sent = [messages.send_message(school.siti, school.class_conversation, f"m{n}").id for n in range(8)]
    tabs = [signed_in_client(app, school.andi) for _ in range(4)]

    def mark(n):
        return tabs[n % 4].post(f"/messages/{school.class_conversation}/read?message_id={sent[n]}",
                                headers=HX).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert set(pool.map(mark, [7, 0, 3, 6, 1, 5, 2, 4])) == {204}
    db.session.expire_all()
    pointer = db.session.scalar(select(ConversationMember.last_read_message_id).where(
        ConversationMember.conversation_id == school.class_conversation, ConversationMember.user_id == school.andi.id))
    assert pointer == sent[7] and messages.unread_total(school.andi) == 0
