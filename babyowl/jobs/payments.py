"""Unpaid invoices expire after their due date and free their seat: one job per invoice, plus the sweep."""
from __future__ import annotations

import uuid

from babyowl.jobs.context import with_app_context


@with_app_context
def expire_invoice(invoice_id: str) -> bool:
    """Safe to run twice, early or late: the database decides whether the invoice is still unpaid and due."""
    from babyowl.services.payments import expire

    return expire(uuid.UUID(invoice_id))


def expire_due_invoices() -> int:
    from babyowl.services.payments import expire_due

    return expire_due()
