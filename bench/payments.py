"""Staff's dashboard and the payments queue on the seeded school (3,000 students by default).

    .venv/bin/python bench/payments.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/babyowl_pay_bench

Builds on bench/school.py (a fresh database: it is DROPped first), adds invoices in every state in bulk (one per
enrollment by default: pending, submitted with a proof row, partially paid, verified, rejected, expired,
cancelled, refunded), then times GET /dashboard and GET /payments (and its filtered views) as staff through the
Flask test client. Prints median/p95 server time and the SQL statements per request. Figures, never assertions.
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

from school import (  # noqa: E402
    DEFAULT_URL, BenchFailure, StatementCounter, _insert, bench_arguments, bench_database, commit_and_analyze,
    engine_of, print_table, seed, shown, signed_in_client, time_requests,
)

STATES = ("pending", "submitted", "partially_paid", "verified", "rejected", "expired", "cancelled", "refunded")


def parse_args(argv=None) -> argparse.Namespace:
    parser = bench_arguments(__doc__, DEFAULT_URL.replace("babyowl_bench", "babyowl_pay_bench"))
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (default 30)")
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
        commit_and_analyze(db)
        return len(invoices)


def run(app, seeded: dict, requests: int) -> list[tuple[str, dict, list[int]]]:
    counter = StatementCounter(engine_of(app))
    client = signed_in_client(app, seeded["admin_id"])
    pages = [("GET /dashboard (staff)", "/dashboard", "Money received per month"),
             ("GET /payments", "/payments", "INV-B-"),
             ("GET /payments?status=submitted", "/payments?status=submitted", "INV-B-"),
             ("GET /payments?class=…", f"/payments?class={seeded['class_id']}", "INV-B-"),
             ("GET /payments?amount=1.500.001", "/payments?amount=1.500.001", "INV-B-")]
    return [(label, *time_requests(client, counter, url, requests, warmup=2, must_show=expected))
            for label, url, expected in pages]


def main(argv=None) -> int:
    args = parse_args(argv)
    print(f"Baby Owl payments benchmark on {shown(args.database_url)}")
    with bench_database(args.database_url, args.keep) as app:
        started = time.perf_counter()
        seeded = seed(app, args.students, args.classes)
        invoices = add_invoices(app, seeded)
        counts = ", ".join(f"{v:,} {k}" for k, v in seeded["counts"].items())
        print(f"  seeded in {time.perf_counter() - started:.1f} s: {counts}, {invoices:,} invoices")
        try:
            print_table(run(app, seeded, args.requests), width=34)
        except BenchFailure as failure:
            print(f"FAILED: {failure}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
