"""Benchmark: the conversation page and its polling request, in a seeded school with 200,000 messages.

Not a test: it measures and prints. It builds a fresh database (DROP + CREATE +
migrations), seeds the school of `bench/school.py` (3,000 students, 100 classes
of 30), adds a class conversation per class and a direct conversation between
each enrolled student and their instructor, spreads the messages over them
(by default 200,000: 60 % in class conversations, 40 % in direct ones) and
leaves every member with unread messages. Then, signed in as a student of the
picked class, it times through the Flask test client (in process):

  * the conversation page (GET /messages/<id>: the newest 30, pointer moved),
  * the poll with nothing new (GET /messages/<id>/new?after=…: 204),
  * the poll that finds one new message (200 + the fragment),
  * the header badge (total unread) and the conversation list,

and prints median/p95 ms and SQL statements per request, plus the plan of the
poll's one query (it must be an index scan on idx_messages_conversation_created).

    cd /work/main && .venv/bin/python bench/messages.py [--help]

The database named in --database-url is dropped and re-created: never point it
at a database you want to keep.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402

from school import (  # noqa: E402
    BenchFailure, StatementCounter, _insert, bench_arguments, bench_database, commit_and_analyze, engine_of,
    print_table, seed, shown, signed_in_client, summary, time_requests, timed_request,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/babyowl_bench_messages"
WORDS = ("halo", "pak", "bu", "tugas", "besok", "kelas", "python", "perulangan", "fungsi", "terima", "kasih",
         "sudah", "belum", "latihan", "nilai", "pertemuan", "jadwal", "materi", "coba", "lagi")


def parse_args(argv=None) -> argparse.Namespace:
    parser = bench_arguments(__doc__, DEFAULT_URL, classes_help="classes of 30 (default 100)")
    parser.add_argument("--messages", type=int, default=200_000, help="messages in the school (default 200000)")
    parser.add_argument("--unread", type=int, default=40, help="unread messages left per member (default 40)")
    parser.add_argument("--renders", type=int, default=50, help="timed conversation pages (default 50)")
    parser.add_argument("--polls", type=int, default=300, help="timed polls (default 300)")
    return parser.parse_args(argv)


def seed_messages(app, seeded: dict, total: int, unread: int) -> dict:
    """Bulk-insert conversations, members and `total` messages; every member keeps `unread` messages unread."""
    from babyowl.extensions import db
    from babyowl.models import ClassEnrollment, Conversation, ConversationMember, Message, SchoolClass
    from babyowl.models.messaging import direct_key

    rng = random.Random(19)
    now = datetime.now(timezone.utc)
    start = now - timedelta(days=60)
    with app.app_context():
        session = db.session
        instructor_of = dict(session.execute(sa.select(SchoolClass.id, SchoolClass.instructor_id)).all())
        roster: dict[uuid.UUID, list[uuid.UUID]] = {}
        for class_id, student_id in session.execute(sa.select(ClassEnrollment.class_id, ClassEnrollment.student_id)
                                                    .where(ClassEnrollment.status == "active")):
            roster.setdefault(class_id, []).append(student_id)

        conversations, members = [], []  # (conversation id, [member ids])
        for class_id, students in roster.items():
            conversation_id = uuid.uuid4()
            conversations.append({"id": conversation_id, "kind": "class", "class_id": class_id, "created_at": start})
            members.append((conversation_id, [instructor_of[class_id], *students]))
        class_count = len(conversations)
        pairs = {(student, instructor_of[class_id]) for class_id, students in roster.items() for student in students}
        for student, instructor in sorted(pairs):
            conversation_id = uuid.uuid4()
            conversations.append({"id": conversation_id, "kind": "direct",
                                  "direct_key": direct_key(student, instructor), "created_at": start})
            members.append((conversation_id, [student, instructor]))

        # 60 % of the messages in class conversations, 40 % in direct ones.
        in_class = int(total * 0.6)
        per_conversation = [in_class // class_count] * class_count
        direct_count = len(conversations) - class_count
        per_conversation += [(total - in_class) // direct_count] * direct_count
        per_conversation[0] += total - sum(per_conversation)
        message_rows, member_rows = [], []
        picked_conversation = None
        for (conversation_id, people), count, conversation in zip(members, per_conversation, conversations):
            if conversation.get("class_id") == seeded["class_id"]:
                picked_conversation = conversation_id
            step = (now - start) / max(count, 1)
            ids = []
            for n in range(count):
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
                message_id = uuid.uuid4()
                ids.append(message_id)
                message_rows.append({"id": message_id, "conversation_id": conversation_id,
                                     "sender_id": people[n % len(people)], "content": text,
                                     "content_html": f"<p>{text}</p>", "created_at": start + step * n})
            conversation["last_message_at"] = now if count else None
            read_up_to = ids[-unread - 1] if len(ids) > unread else None
            for person in people:
                member_rows.append({"id": uuid.uuid4(), "conversation_id": conversation_id, "user_id": person,
                                    "joined_at": start - timedelta(days=1), "muted": False,
                                    "last_read_message_id": read_up_to})
        _insert(session, Conversation, conversations)
        _insert(session, Message, message_rows)
        _insert(session, ConversationMember, member_rows)
        commit_and_analyze(db)
    return {"conversation_id": picked_conversation, "conversations": len(conversations),
            "class_conversations": class_count, "members": len(member_rows), "messages": len(message_rows)}


def main(argv=None) -> int:
    args = parse_args(argv)
    url = args.database_url
    print(f"Baby Owl messages benchmark on {shown(url)}")
    began = time.perf_counter()
    with bench_database(url, args.keep) as app:
        started = time.perf_counter()
        seeded = seed(app, args.students, args.classes)
        print(f"  school seeded in {time.perf_counter() - started:.1f} s: {seeded['counts']}")
        started = time.perf_counter()
        made = seed_messages(app, seeded, args.messages, args.unread)
        print(f"  {made['messages']:,} messages in {made['conversations']:,} conversations "
              f"({made['class_conversations']} class), {made['members']:,} members, seeded in "
              f"{time.perf_counter() - started:.1f} s")
        try:
            problems = run(app, seeded, made, args)
        except BenchFailure as failure:
            problems = [str(failure)]
    print(f"  total {time.perf_counter() - began:.1f} s")
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    return 1 if problems else 0


def run(app, seeded: dict, made: dict, args) -> list[str]:
    from babyowl.extensions import db
    from babyowl.models import ClassEnrollment, Message, User
    from babyowl.services import messages

    problems: list[str] = []
    conversation_id = made["conversation_id"]
    with app.app_context():
        # A student of the picked class who is in two classes (more to count in the badge), else any.
        students = db.session.execute(
            sa.select(ClassEnrollment.student_id, sa.func.count()).where(
                ClassEnrollment.student_id.in_(sa.select(ClassEnrollment.student_id).where(
                    ClassEnrollment.class_id == seeded["class_id"])))
            .group_by(ClassEnrollment.student_id).order_by(sa.func.count().desc())).all()
        other_id = students[1][0]
        db.session.remove()
    client = signed_in_client(app, students[0][0])
    counter = StatementCounter(engine_of(app))
    htmx = {"HX-Request": "true"}

    rows = []
    page_url = f"/messages/{conversation_id}"
    timed_request(client, counter, page_url, must_show="message-list")
    rows.append(("conversation page (newest 30, pointer moved)",
                 *time_requests(client, counter, page_url, args.renders)))

    with app.app_context():
        last = db.session.scalar(sa.select(Message.id).where(Message.conversation_id == conversation_id)
                                 .order_by(Message.created_at.desc(), Message.id.desc()).limit(1))
        plan = db.session.execute(sa.text(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT m.id FROM messages m WHERE m.conversation_id = :c AND EXISTS "
            "(SELECT 1 FROM conversation_members cm WHERE cm.conversation_id = :c AND cm.user_id = :u "
            "AND cm.left_at IS NULL) AND (m.created_at, m.id) > (SELECT created_at, id FROM messages WHERE id = :a) "
            "ORDER BY m.created_at, m.id LIMIT 200"), {"c": conversation_id, "u": students[0][0], "a": last}).all()
        db.session.remove()
    poll_url = f"/messages/{conversation_id}/new?after={last}"
    rows.append(("poll, nothing new (204)", *time_requests(client, counter, poll_url, args.polls, expect=204,
                                                            headers=htmx)))

    samples, statements = [], []
    for _ in range(max(1, args.polls // 10)):
        with app.app_context():
            sender = db.session.get(User, other_id)
            new = messages.send_message(sender, conversation_id, "pesan baru")
            new_id = new.id
            db.session.remove()
        elapsed, count, _response = timed_request(client, counter, poll_url, must_show="pesan baru", headers=htmx)
        samples.append(elapsed)
        statements.append(count)
        poll_url = f"/messages/{conversation_id}/new?after={new_id}"
    rows.append(("poll, one new message (200)", summary(samples), statements))

    for label, url in (("header badge (total unread)", "/messages/badge"), ("conversation list", "/messages")):
        rows.append((label, *time_requests(client, counter, url, args.renders)))

    print_table(rows, width=48)
    print("\n  plan of the poll's query:")
    for (line,) in plan:
        print(f"    {line}")
    if not any("idx_messages_conversation_created" in line for (line,) in plan):
        problems.append("the poll's query does not use idx_messages_conversation_created")
    return problems


if __name__ == "__main__":
    sys.exit(main())
