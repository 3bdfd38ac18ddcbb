"""Request and response bodies of the payments operations (invoices, proofs, staff decisions, bank accounts).

Amounts are decimals sent as strings in JSON (`"1750123.00"`), never floats; amounts a person types (received,
refunded, prices) are taken as the pages take them: `"1.750.123"`, `"Rp 1.500.000,00"` or `"1750123"`.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from babyowl.blueprints.api.core import ApiModel

InvoiceStatus = Literal["pending", "submitted", "partially_paid", "verified", "rejected", "expired", "cancelled",
                        "refunded", "partially_refunded"]
Rupiah = Field(min_length=1, max_length=30, examples=["1.750.123"])


class ProofOut(ApiModel):
    id: uuid.UUID
    file_name: str
    content_type: str
    file_size: int
    sha256: str
    transfer_date: date | None = None
    sender_name: str | None = None
    sender_bank: str | None = None
    created_at: datetime
    reused: bool | None = Field(None, description="Staff only: the same file was also sent for another invoice.")


class InvoiceEventOut(ApiModel):
    old_status: InvoiceStatus | None = None
    new_status: InvoiceStatus
    amount: Decimal | None = None
    reason: str | None = None
    actor_name: str | None = None
    created_at: datetime


class InvoiceOut(ApiModel):
    id: uuid.UUID
    number: str
    kind: Literal["enrollment", "top_up"]
    status: InvoiceStatus
    status_name: str
    student_id: uuid.UUID
    student_name: str | None = None
    class_id: uuid.UUID
    class_name: str | None = None
    enrollment_id: uuid.UUID | None = None
    meetings: int
    amount_due: Decimal
    unique_code: int
    expected_total: Decimal = Field(description="What to transfer: the amount due plus the unique code.")
    amount_received: Decimal
    amount_refunded: Decimal
    amount_outstanding: Decimal
    due_at: datetime
    created_at: datetime
    proof_count: int


class QueuedInvoiceOut(InvoiceOut):
    proofs: list[ProofOut]


class InvoiceDetailOut(QueuedInvoiceOut):
    rejection_reason: str | None = Field(None, description="Why the last proof was not accepted (when rejected).")
    events: list[InvoiceEventOut] | None = Field(None, description="Staff only: every change, who and why.")


class ChooseClassIn(ApiModel):
    class_id: uuid.UUID = Field(description="A class open for enrollment (GET /api/v1/open-classes).")


class OpenClassOut(ApiModel):
    id: uuid.UUID
    name: str
    type: str
    course_id: uuid.UUID
    course_title: str | None = None
    package_price: Decimal
    total_meetings: int
    seats_left: int
    start_date: date | None = None
    enrollment_deadline: date | None = None


class TopUpIn(ApiModel):
    meetings: int = Field(ge=1, le=50)


class ProofForm(ApiModel):
    file: Any = Field(None, json_schema_extra={"type": "string", "format": "binary"},
                      description="The photo (JPEG, PNG) or PDF of the transfer receipt, at most 5 MB.")
    transfer_date: date | None = None
    sender_name: str | None = Field(None, max_length=255)
    sender_bank: str | None = Field(None, max_length=100)


class VerifyIn(ApiModel):
    amount: str = Rupiah
    note: str | None = Field(None, max_length=500)


class ReasonIn(ApiModel):
    reason: str = Field(min_length=1, max_length=500)


class RefundIn(ApiModel):
    credits: int = Field(ge=1, le=200, description="Unused credits given back (they are removed).")
    amount: str = Rupiah
    reason: str = Field(min_length=1, max_length=500)


class PricesIn(ApiModel):
    package_price: str | None = Field(None, max_length=30, description="Empty or null: not sold online.")
    meeting_price: str | None = Field(None, max_length=30, description="Private classes only.")


class PricesOut(ApiModel):
    class_id: uuid.UUID
    package_price: Decimal | None = None
    meeting_price: Decimal | None = None


class QueueQuery(ApiModel):
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=500)
    status: Literal["", "pending", "submitted", "partially_paid", "verified", "rejected", "expired", "cancelled",
                    "refunded", "partially_refunded"] = ""
    class_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    amount: str | None = Field(None, max_length=30, description="The expected total or the price, as on the bank "
                                                                "statement, e.g. 1.750.123.")


class ExportQuery(ApiModel):
    status: Literal["", "pending", "submitted", "partially_paid", "verified", "rejected", "expired", "cancelled",
                    "refunded", "partially_refunded"] = ""
    class_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    amount: str | None = Field(None, max_length=30)
    separator: Literal["comma", "semicolon"] = "comma"


class BankAccountOut(ApiModel):
    id: uuid.UUID
    bank_name: str
    account_number: str
    account_holder: str
    active: bool


class BankAccountIn(ApiModel):
    bank_name: str = Field(min_length=1, max_length=100)
    account_number: str = Field(min_length=1, max_length=50)
    account_holder: str = Field(min_length=1, max_length=255)


class ActiveIn(ApiModel):
    active: bool
