"""Migration 0017 keeps the spec's conversations: pairs become direct conversations with two members, read state
becomes read pointers, every class gets its class conversation; and it goes back down. On its own database."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import _recreate_database


def test_existing_conversations_survive_the_upgrade_and_the_downgrade(make_app, database_url):
    from flask_migrate import downgrade, upgrade

    from babyowl.extensions import db

    url = make_url(database_url)
    url = url.set(database=f"{url.database}_m0017").render_as_string(hide_password=False)
    _recreate_database(url)
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    a, b, teacher, other = (uuid.uuid4() for _ in range(4))
    conversation, course, school_class = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first, second = uuid.uuid4(), uuid.uuid4()
    at = datetime(2026, 1, 1, 10, tzinfo=timezone.utc)
    try:
        with app.app_context():
            upgrade(revision="0014")
            run = db.session.execute
            for uid, role in ((a, "student"), (b, "student"), (teacher, "instructor"), (other, "student")):
                run(sa.text("INSERT INTO users (id, email, full_name, role) VALUES (:i, :e, 'N', :r)"),
                    {"i": uid, "e": f"{uid.hex}@example.com", "r": role})
            # b first: the stored order is not the canonical one.
            run(sa.text("INSERT INTO conversations (id, participant_1, participant_2) VALUES (:c, :p1, :p2)"),
                {"c": conversation, "p1": b, "p2": a})
            run(sa.text("INSERT INTO messages (id, conversation_id, sender_id, content, created_at, read_at) VALUES "
                        "(:m1, :c, :a, 'Halo <b>', :t1, :t2), (:m2, :c, :b, 'Hai', :t2, NULL)"),
                {"m1": first, "m2": second, "c": conversation, "a": a, "b": b, "t1": at,
                 "t2": at.replace(hour=11)})
            run(sa.text("INSERT INTO courses (id, title, slug, description) VALUES (:i, 'C', 'c', 'd')"), {"i": course})
            run(sa.text("INSERT INTO classes (id, name, course_id, instructor_id, type, total_meetings, "
                        "enrollment_deadline) VALUES (:i, 'Kelas', :c, :t, 'group', 10, '2026-01-01')"),
                {"i": school_class, "c": course, "t": teacher})
            run(sa.text("INSERT INTO class_enrollments (id, class_id, student_id, meeting_credits, status) VALUES "
                        "(:e1, :k, :a, 10, 'active'), (:e2, :k, :o, 10, 'withdrawn')"),
                {"e1": uuid.uuid4(), "e2": uuid.uuid4(), "k": school_class, "a": a, "o": other})
            db.session.commit()

            upgrade()
            rows = dict(run(sa.text("SELECT kind, direct_key FROM conversations WHERE id = :c"),
                            {"c": conversation}).one()._mapping)
            assert rows == {"kind": "direct", "direct_key": ":".join(sorted((str(a), str(b))))}
            pointers = dict(run(sa.text("SELECT user_id, last_read_message_id FROM conversation_members "
                                        "WHERE conversation_id = :c"), {"c": conversation}).all())
            # a read b's reply? no (read_at NULL): a's pointer is at a's own message; b read a's (read_at set)
            # and then wrote: b's pointer is at b's own reply.
            assert pointers == {a: first, b: second}
            assert run(sa.text("SELECT content_html FROM messages WHERE id = :m"), {"m": first}).scalar() == (
                "<p>Halo &lt;b&gt;</p>")
            class_members = set(run(sa.text(
                "SELECT m.user_id FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id "
                "WHERE c.class_id = :k"), {"k": school_class}).scalars())
            assert class_members == {a, teacher}  # the withdrawn student is not in it
            db.session.commit()

            downgrade(revision="0014")
            back = run(sa.text("SELECT participant_1, participant_2 FROM conversations")).all()
            assert [set(row) for row in back] == [{a, b}]
            assert run(sa.text("SELECT count(*) FROM messages")).scalar() == 2
            db.session.commit()
            db.engine.dispose()
    finally:
        admin = sa.create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        admin.dispose()
