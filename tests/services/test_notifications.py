"""notify(): one row per person and event, in their language; email choices; unsubscribe links."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from babyowl.models import Notification
from babyowl.services import notifications
from babyowl.services.errors import InvalidInput
from tests.factories import make_user
from tests.helpers import mails, reload
from babyowl.transactions import use_case

# notify() joins its caller's use case; a test calls it as one of its own.
notify = use_case(notifications.notify)


def test_notify_writes_one_row_per_person_and_emails_each(make_app, db, tmp_path):
    app = make_app(MAIL_BACKEND="file", MAIL_FILE_DIR=str(tmp_path / "out"))
    with app.app_context():
        a, b = make_user("student"), make_user("student")
        created = notify([a, b], kind="lesson_unlocked", title="Judul", message="Isi")
        assert len(created) == 2
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 2
        addresses = sorted([a.email, b.email])
    assert sorted(m["To"] for m in mails(tmp_path / "out")) == addresses


def test_an_event_key_notifies_nobody_twice(db):
    student = make_user("student")
    first = notify([student], kind="announcement", title="T", message="m", event_key="announcement:1")
    again = notify([student], kind="announcement", title="T", message="m", event_key="announcement:1")
    assert len(first) == 1 and again == []
    notify([student], kind="announcement", title="T", message="m")  # no key: no guard
    notify([student], kind="announcement", title="T", message="m")
    assert notifications.unread_count(student) == 3


def test_each_person_reads_it_in_their_own_language(db):
    budi, andi = make_user("student", language="id"), make_user("student", language="en")
    notify([budi, andi], kind="lesson_unlocked", title=_l("New lesson: %(lesson)s", lesson="Loop"),
                         message=_l("%(lesson)s is now open in %(class)s.", lesson="Loop", **{"class": "Kelas A"}),
                         email=False)
    titles = dict(db.session.execute(select(Notification.user_id, Notification.title)).all())
    assert titles[andi.id] == "New lesson: Loop"
    assert titles[budi.id] != "New lesson: Loop" and "Loop" in titles[budi.id]


def test_marking_read_one_and_all(db):
    student, other = make_user("student"), make_user("student")
    first, _second = notify([student], kind="announcement", title="1", message="m", email=False) + \
        notify([student], kind="announcement", title="2", message="m", email=False)
    [others] = notify([other], kind="announcement", title="3", message="m", email=False)
    with pytest.raises(notifications.NotificationNotFound):
        notifications.mark_read(student, others)
    notifications.mark_read(student, first)
    assert notifications.unread_count(student) == 1
    assert notifications.mark_all_read(student) == 1
    assert notifications.unread_count(student) == 0 and notifications.unread_count(other) == 1


def test_email_choices_and_language_are_saved(db):
    student = make_user("student")
    assert notifications.email_choices(student) == dict.fromkeys(notifications.KINDS, True)
    notifications.save_preferences(student, emails_for=["lesson_unlocked"], language="en")
    assert notifications.email_choices(student) == {kind: kind == "lesson_unlocked" for kind in notifications.KINDS}
    assert reload(db, student).language == "en"
    assert not notifications.wants_email(student.id, "announcement")
    with pytest.raises(InvalidInput):
        notifications.save_preferences(student, emails_for=["spam"], language="en")
    with pytest.raises(InvalidInput):
        notifications.save_preferences(student, emails_for=[], language="fr")


def test_an_unsubscribe_link_turns_off_one_kind_and_only_that(db):
    student = make_user("student")
    token = notifications.unsubscribe_token(student, "announcement")
    assert notifications.read_unsubscribe_token(token) == (student, "announcement")
    notifications.unsubscribe(token)
    notifications.unsubscribe(token)  # a second click changes nothing
    assert notifications.email_choices(student) == {kind: kind != "announcement" for kind in notifications.KINDS}
    for bad in ("nonsense", token[:-2] + "xx"):
        with pytest.raises(notifications.InvalidUnsubscribeLink):
            notifications.read_unsubscribe_token(bad)


def test_the_email_is_in_the_recipients_language_with_a_working_unsubscribe_link(make_app, db, tmp_path):
    from babyowl.services import announcements
    from tests.factories import make_class, make_enrollment

    app = make_app(MAIL_BACKEND="file", MAIL_FILE_DIR=str(tmp_path / "out"))
    with app.app_context():
        teacher = make_user("instructor")
        school_class = make_class(instructor=teacher)
        dewi = make_enrollment(school_class, make_user("student", language="id")).student
        john = make_enrollment(school_class, make_user("student", language="en")).student
        announcements.create_announcement(teacher, school_class, title="Ujian", content="Bawa *laptop*.")
        addresses = {"id": dewi.email, "en": john.email}
    sent = {m["To"]: m for m in mails(tmp_path / "out")}
    indonesian = sent[addresses["id"]].get_body(("plain",)).get_content()
    english = sent[addresses["en"]].get_body(("plain",)).get_content()
    assert "Halo" in indonesian and "berhenti berlangganan" in indonesian
    assert "Hello" in english and "unsubscribe" in english
    assert "<em>laptop</em>" in sent[addresses["en"]].get_body(("html",)).get_content()
    link = next(word for word in english.split() if "/unsubscribe/" in word)
    client = app.test_client()
    assert link.startswith("http://127.0.0.1:5000/unsubscribe/")  # PUBLIC_URL: no request to take a host from
    path = urlsplit(link).path
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 303
    with app.app_context():
        assert notifications.email_choices(john) == {kind: kind != "announcement" for kind in notifications.KINDS}
