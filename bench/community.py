"""Benchmark: the community feed on PostgreSQL, in a seeded school with 50,000 posts.

Not a test: it asserts nothing about speed, it measures and prints. It builds a
fresh database (DROP + CREATE + migrations), seeds the school of bench/school.py
(by default 3,000 students and 100 classes), adds 50,000 posts (school, class
and study-group scoped), about 100,000 likes and 50,000 comments with bulk
inserts, signs in a student who is in two classes and three groups, and times
through the Flask test client (in process, no network):

  * the feed's first page (all, my classes, my groups),
  * a page deep in the feed (through the cursor, as "Older posts" asks it),
  * a post's page with its comments, and
  * a like (POST, as htmx sends it),

then checks that the like counters agree with the like rows.

    cd /work/wt-comm && .venv/bin/python bench/community.py [--help]

The database named in --database-url is dropped and re-created: never point it
at a database you want to keep.
"""
from __future__ import annotations

import argparse
import os
import platform
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
    print_table, seed, signed_in_client, summary, time_requests, timed_request,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/babyowl_h_comm_bench"


def parse_args(argv=None) -> argparse.Namespace:
    parser = bench_arguments(__doc__, DEFAULT_URL)
    parser.add_argument("--posts", type=int, default=50000, help="community posts (default 50000)")
    parser.add_argument("--groups", type=int, default=30, help="study groups (default 30)")
    parser.add_argument("--renders", type=int, default=50, help="timed requests per page (default 50)")
    return parser.parse_args(argv)


def seed_community(app, seeded: dict, posts: int, groups: int) -> dict:
    """Bulk-insert groups, posts, likes and comments; returns the signed-in student's id and counts."""
    from babyowl.extensions import db
    from babyowl.models import (
        ClassEnrollment, CommunityComment, CommunityGroup, CommunityGroupMember, CommunityPost, CommunityPostLike,
    )

    rng = random.Random(20261201)
    now = datetime.now(timezone.utc)
    students = seeded["student_ids"]
    with app.app_context():
        session = db.session
        enrolled = session.execute(sa.select(ClassEnrollment.student_id, ClassEnrollment.class_id)).all()
        classes_of: dict = {}
        for student_id, class_id in enrolled:
            classes_of.setdefault(student_id, []).append(class_id)
        reader = next(s for s in students if len(classes_of.get(s, [])) == 2)
        group_rows, member_rows, members_of = [], [], {}
        for g in range(groups):
            group_id = uuid.uuid4()
            members = rng.sample(students, 60)
            if g < 3:
                members = [reader, *[m for m in members if m != reader]][:60]
            members_of[group_id] = members
            group_rows.append({"id": group_id, "name": f"Grup belajar {g + 1}", "created_by": seeded["admin_id"],
                               "members_count": len(members), "status": "active", "join_policy": "open",
                               "created_at": now, "updated_at": now})
            member_rows += [{"id": uuid.uuid4(), "group_id": group_id, "user_id": m,
                             "role": "creator" if i == 0 else "member", "joined_at": now}
                            for i, m in enumerate(members)]
        _insert(session, CommunityGroup, group_rows)
        _insert(session, CommunityGroupMember, member_rows)

        group_ids = list(members_of)
        post_rows, like_rows, comment_rows = [], [], []
        start = now - timedelta(days=365)
        step = timedelta(days=365) / posts
        for n in range(posts):
            kind = rng.random()
            author = rng.choice(students)
            scope, class_id, group_id = "school", None, None
            if kind < 0.3 and classes_of.get(author):
                scope, class_id = "class", rng.choice(classes_of[author])
            elif kind < 0.4:
                scope, group_id = "group", rng.choice(group_ids)
                author = rng.choice(members_of[group_id])
            post_id = uuid.uuid4()
            likers = set(rng.sample(students, rng.randint(0, 4)))
            comments = rng.randint(0, 2)
            created = start + step * n
            text = f"Karya nomor {n}: gambar **turtle** dengan perulangan."
            post_rows.append({"id": post_id, "author_id": author, "content": text, "content_html": f"<p>{text}</p>",
                              "scope": scope, "class_id": class_id, "group_id": group_id, "status": "published",
                              "likes_count": len(likers), "comments_count": comments, "media_urls": [],
                              "created_at": created, "updated_at": created})
            like_rows += [{"id": uuid.uuid4(), "post_id": post_id, "user_id": u, "created_at": created}
                          for u in likers]
            comment_rows += [{"id": uuid.uuid4(), "post_id": post_id, "author_id": rng.choice(students),
                              "content": "Keren!", "content_html": "<p>Keren!</p>", "status": "published",
                              "created_at": created + timedelta(minutes=c + 1),
                              "updated_at": created + timedelta(minutes=c + 1)} for c in range(comments)]
        _insert(session, CommunityPost, post_rows)
        _insert(session, CommunityPostLike, like_rows)
        _insert(session, CommunityComment, comment_rows)
        commit_and_analyze(db)
    return {"reader_id": reader, "counts": {"groups": len(group_rows), "group members": len(member_rows),
                                            "posts": len(post_rows), "likes": len(like_rows),
                                            "comments": len(comment_rows)}}


def run(app, reader_id, renders: int) -> tuple[list[tuple], list[str]]:
    from babyowl.extensions import db
    from babyowl.models import CommunityPost, CommunityPostLike, User
    from babyowl.services import community

    with app.app_context():
        reader = db.session.get(User, reader_id)
        # A cursor 1,000 posts deep, as fifty "Older posts" taps would reach.
        deep = community.feed(reader, limit=1000)
        deep_cursor = deep.next_cursor
        busy_post = db.session.scalar(sa.select(CommunityPost.id).where(CommunityPost.scope == "school")
                                      .order_by(CommunityPost.comments_count.desc(), CommunityPost.created_at.desc())
                                      .limit(1))
        like_targets = db.session.scalars(sa.select(CommunityPost.id).where(CommunityPost.scope == "school")
                                          .order_by(CommunityPost.created_at.desc()).limit(renders + 5)).all()
        db.session.remove()
    client = signed_in_client(app, reader_id)
    counter = StatementCounter(engine_of(app))
    htmx = {"HX-Request": "true"}

    pages = {
        "feed, all (first page of 20)": "/community",
        "feed, my classes": "/community?show=classes",
        "feed, my groups": "/community?show=groups",
        "feed, 1,000 posts deep (cursor, htmx)": f"/community?cursor={deep_cursor}",
        "post page with comments": f"/community/posts/{busy_post}",
    }
    rows = [(label, *time_requests(client, counter, url, renders, warmup=5,
                                   headers=htmx if "cursor" in url else {}))
            for label, url in pages.items()]
    for post_id in like_targets[:5]:
        timed_request(client, counter, f"/community/posts/{post_id}/like", method="post", headers=htmx)
    likes = [timed_request(client, counter, f"/community/posts/{post_id}/like", method="post", headers=htmx)[:2]
             for post_id in like_targets[5:]]
    rows.append(("like (POST, htmx)", summary([ms for ms, _ in likes]), [q for _, q in likes]))

    problems = []
    with app.app_context():
        counted = sa.select(sa.func.count()).where(CommunityPostLike.post_id == CommunityPost.id).scalar_subquery()
        drift = db.session.scalar(sa.select(sa.func.count()).select_from(CommunityPost)
                                  .where(CommunityPost.likes_count != counted))
        if drift:
            problems.append(f"{drift} posts' likes_count differ from their like rows")
    return rows, problems


def main(argv=None) -> int:
    args = parse_args(argv)
    with bench_database(args.database_url, args.keep) as app:
        started = time.perf_counter()
        seeded = seed(app, args.students, args.classes, past_meetings=1)
        extra = seed_community(app, seeded, args.posts, args.groups)
        print(f"Seeded in {time.perf_counter() - started:.1f} s: {seeded['counts']} + {extra['counts']}")
        print(f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}, "
              f"{args.renders} timed requests each, after 5 warm-up requests")
        try:
            rows, problems = run(app, extra["reader_id"], args.renders)
        except BenchFailure as failure:
            print(f"FAILED: {failure}")
            return 1
    print_table(rows, width=42)
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    print("checks: likes_count agrees with the like rows" if not problems else "")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
