"""Staff's dashboard and the payments queue on the seeded school (3,000 students by default).

    .venv/bin/python bench/payments.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/babyowl_pay_bench

Builds on bench/school.py (a fresh database: it is DROPped first), adds invoices in every state in bulk (one per
enrollment by default: pending, submitted with a proof row, partially paid, verified, rejected, expired,
cancelled, refunded), then times GET /dashboard and GET /payments (and its filtered views) as staff through the
Flask test client. Prints median/p95 server time and the SQL statements per request. Figures, never assertions.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

from school import (  # noqa: E402
    DEFAULT_URL, StatementCounter, _insert, build_app, drop_database, isolated, recreate_database, seed, summary,
)

STATES = ("pending", "submitted", "partially_paid", "verified", "rejected", "expired", "cancelled", "refunded")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL.replace("babyowl_bench", "babyowl_pay_bench"))
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (default 30)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


def add_invoices(app, seeded: dict) -> int:
    """One invoice per enrollment, states in turn, amounts spread so open totals never collide; in bulk."""
    from babyowl.extensions import db
    from babyowl.models import ClassEnrollment, Invoice, InvoiceEvent, PaymentProof
    from babyowl.models.base import utcnow

    with app.app_context():
        rows = db.session.execute(sa.select(ClassEnrollment.id, ClassEnrollment.class_id,
                                            ClassEnrollment.student_id)).all()
        now = utcnow()
        invoices, events, proofs = [], [], []
        for n, (enrollment_id, class_id, student_id) in enumerate(rows):
            state = STATES[n % len(STATES)]
            amount = Decimal(1500000 + (n // 999) * 1000)
            code = n % 999 + 1
            received = {"partially_paid": Decimal(1000000), "verified": amount + code,
                        "refunded": amount + code}.get(state, Decimal(0))
            created = now - timedelta(days=n % 200, hours=n % 24)
            invoice_id = uuid.uuid4()
            invoices.append({"id": invoice_id, "number": f"INV-B-{n:06d}", "kind": "enrollment",
                             "student_id": student_id, "class_id": class_id, "enrollment_id": enrollment_id,
                             "meetings": 20, "amount_due": amount, "unique_code": code,
                             "expected_total": amount + code, "amount_received": received,
                             "amount_refunded": received if state == "refunded" else Decimal(0), "status": state,
                             "due_at": created + timedelta(days=3), "created_at": created, "updated_at": created})
            events.append({"id": uuid.uuid4(), "invoice_id": invoice_id, "old_status": None, "new_status": "pending",
                           "amount": amount + code, "created_at": created})
            if state != "pending":
                events.append({"id": uuid.uuid4(), "invoice_id": invoice_id, "old_status": "pending",
                               "new_status": "verified" if state == "refunded" else state,
                               "amount": received or None, "created_at": created + timedelta(hours=5)})
            if state in ("submitted", "rejected", "partially_paid", "verified"):
                proofs.append({"id": uuid.uuid4(), "invoice_id": invoice_id, "uploaded_by": student_id,
                               "file_key": f"payment-proofs/bench/{n}.png", "file_name": "bukti.png",
                               "content_type": "image/png", "file_size": 1000, "sha256": f"{n % 1500:064x}",
                               "created_at": created})
        _insert(db.session, Invoice, invoices)
        _insert(db.session, InvoiceEvent, events)
        _insert(db.session, PaymentProof, proofs)
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
        db.session.remove()
        return len(invoices)


def run(app, seeded: dict, requests: int) -> list[tuple[str, dict, str]]:
    from babyowl.extensions import db
    from babyowl.models import User
    from babyowl.services.sessions import start_session
    from babyowl.transactions import unit_of_work

    with app.app_context():
        admin = db.session.get(User, seeded["admin_id"])
        with unit_of_work("bench sign-in"):
            start_session(admin, user_agent="bench", ip="127.0.0.1")
        login_id = admin.get_id()
        engine = db.engine
        db.session.remove()
    counter = StatementCounter(engine)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = login_id
        session["_fresh"] = True
    pages = [("GET /dashboard (staff)", "/dashboard", "Money received per month"),
             ("GET /payments", "/payments", "INV-B-"),
             ("GET /payments?status=submitted", "/payments?status=submitted", "INV-B-"),
             ("GET /payments?class=…", f"/payments?class={seeded['class_id']}", "INV-B-"),
             ("GET /payments?amount=1.500.001", "/payments?amount=1.500.001", "INV-B-")]
    rows = []
    for label, url, expected in pages:
        samples, statements = [], set()
        for attempt in range(requests + 2):
            before = counter.count
            started = time.perf_counter()
            response = isolated(client.get, url)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200 or expected not in response.get_data(as_text=True):
                raise SystemExit(f"GET {url} answered {response.status_code} without {expected!r}")
            if attempt >= 2:  # two warm-up requests
                samples.append(elapsed)
                statements.add(counter.count - before)
        rows.append((label, summary(samples), "/".join(str(s) for s in sorted(statements))))
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    url = args.database_url
    print(f"Baby Owl payments benchmark on {make_url(url).render_as_string(hide_password=True)}")
    recreate_database(url)
    app = build_app(url)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        logging.getLogger().setLevel(logging.WARNING)
    try:
        started = time.perf_counter()
        seeded = seed(app, args.students, args.classes)
        invoices = add_invoices(app, seeded)
        counts = ", ".join(f"{v:,} {k}" for k, v in seeded["counts"].items())
        print(f"  seeded in {time.perf_counter() - started:.1f} s: {counts}, {invoices:,} invoices")
        rows = run(app, seeded, args.requests)
        header = f"{'':<34}{'n':>5}{'median':>10}{'p95':>10}   SQL statements/request"
        print()
        print(header)
        print("-" * len(header))
        for label, s, statements in rows:
            print(f"{label:<34}{s['n']:>5}{s['median']:>8.1f}ms{s['p95']:>8.1f}ms   {statements}")
    finally:
        if not args.keep:
            drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
