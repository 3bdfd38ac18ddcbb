"""The JSON API's payments: what a student's app and staff's scripts send and get back, refusals included."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from babyowl.models import ClassEnrollment, CreditAdjustment, Invoice, InvoiceDelivery, PaymentProof, SchoolClass
from babyowl.models.base import utcnow
from tests.api.test_api import _data, _refusal
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import requests_at_once, signed_in_client

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PRICE = Decimal("1750000")


def _open_class(**fields):
    today = utcnow().date()
    fields.setdefault("package_price", PRICE)
    return make_class(status="enrollment_open", max_capacity=fields.pop("max_capacity", 5),
                      total_meetings=10, enrollment_deadline=today + timedelta(days=7),
                      start_date=today + timedelta(days=8), **fields)


def _choose(client, headers, school_class):
    return client.post("/api/v1/invoices", headers=headers, json={"class_id": str(school_class.id)})


def _proof(client, headers, invoice_id, data=PNG, name="bukti.png"):
    import io

    return client.post(f"/api/v1/invoices/{invoice_id}/proofs", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), name), "sender_name": "Siti", "sender_bank": "BCA"})


@pytest.fixture
def chosen(client, db, api_as):
    """A student who chose an open class and sent the proof of transfer, and a staff member."""
    student, headers = api_as("student")
    school_class = _open_class()
    invoice = _data(_choose(client, headers, school_class))
    assert _proof(client, headers, invoice["id"]).status_code == 201
    staff, staff_headers = api_as("staff")
    return {"student": student, "headers": headers, "class": school_class, "invoice": invoice, "staff": staff_headers}


# --- A student's side ----------------------------------------------------------------------------------------------

def test_a_student_chooses_an_open_class_and_sends_the_proof(client, db, api_as):
    student, headers = api_as("student")
    school_class = _open_class()
    offered = _data(client.get("/api/v1/open-classes", headers=headers))
    assert [(c["id"], c["seats_left"], c["package_price"]) for c in offered] == [(str(school_class.id), 5,
                                                                                  "1750000.00")]
    response = _choose(client, headers, school_class)
    invoice = _data(response)
    assert response.status_code == 201 and invoice["status"] == "pending" and invoice["kind"] == "enrollment"
    assert Decimal(invoice["expected_total"]) == PRICE + invoice["unique_code"] and invoice["events"] is None
    assert _data(client.get("/api/v1/open-classes", headers=headers))[0]["seats_left"] == 4  # the seat is held
    _refusal(_choose(client, headers, school_class), 409)  # one open invoice per class

    sent = _proof(client, headers, invoice["id"])
    assert sent.status_code == 201 and _data(sent)["content_type"] == "image/png" and _data(sent)["reused"] is None
    mine = _data(client.get(f"/api/v1/invoices/{invoice['id']}", headers=headers))
    assert mine["status"] == "submitted" and [p["file_name"] for p in mine["proofs"]] == ["bukti.png"]
    listed = _data(client.get("/api/v1/invoices", headers=headers))
    assert [(i["number"], i["proof_count"]) for i in listed] == [(invoice["number"], 1)]


def test_a_proof_that_is_not_a_picture_or_pdf_changes_nothing(client, db, chosen):
    refused = _refusal(_proof(client, chosen["headers"], chosen["invoice"]["id"], b"MZ\x90\x00 not a receipt",
                              "bukti.png"), 422)
    assert "JPEG" in refused["message"]
    _refusal(client.post(f"/api/v1/invoices/{chosen['invoice']['id']}/proofs", headers=chosen["headers"],
                         content_type="multipart/form-data", data={"sender_name": "Siti"}), 422)
    assert db.session.scalar(select(func.count()).select_from(PaymentProof)) == 1


def test_choosing_is_refused_for_a_class_not_open_and_for_staff(client, db, api_as):
    _, headers = api_as("student")
    _refusal(_choose(client, headers, make_class(status="active", package_price=PRICE)), 404)
    _refusal(_choose(client, headers, _open_class(package_price=None)), 404)
    _refusal(_choose(client, api_as("staff")[1], _open_class()), 403)
    _refusal(client.post("/api/v1/invoices", headers=headers, json={"class_id": "nope"}), 422)
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_another_students_invoice_and_proof_do_not_exist_for_them(client, db, chosen, api_as):
    _, other = api_as("student")
    invoice_id = chosen["invoice"]["id"]
    proof_id = _data(client.get(f"/api/v1/invoices/{invoice_id}", headers=chosen["headers"]))["proofs"][0]["id"]
    _refusal(client.get(f"/api/v1/invoices/{invoice_id}", headers=other), 404, "NOT_FOUND")
    _refusal(client.get(f"/api/v1/payment-proofs/{proof_id}", headers=other), 404)
    _refusal(_proof(client, other, invoice_id), 404)
    _refusal(client.get(f"/api/v1/invoices/{invoice_id}", headers=api_as("instructor")[1]), 404)
    assert _data(client.get("/api/v1/invoices", headers=other)) == []
    mine = client.get(f"/api/v1/payment-proofs/{proof_id}", headers=chosen["headers"])
    assert mine.status_code == 200 and mine.mimetype == "image/png" and mine.data == PNG
    assert mine.headers["Content-Security-Policy"] == "sandbox"


def test_my_invoices_page_with_a_cursor(client, db, api_as):
    _, headers = api_as("student")
    numbers = [_data(_choose(client, headers, _open_class()))["number"] for _ in range(3)]
    first = client.get("/api/v1/invoices?limit=2", headers=headers).get_json()
    assert [i["number"] for i in first["data"]] == numbers[::-1][:2] and first["meta"]["has_more"] is True
    rest = client.get(f"/api/v1/invoices?limit=2&cursor={first['meta']['next_cursor']}", headers=headers).get_json()
    assert [i["number"] for i in rest["data"]] == [numbers[0]] and rest["meta"]["has_more"] is False
    _refusal(client.get("/api/v1/invoices?cursor=bm90LWEtbGlzdA", headers=headers), 422)
    _refusal(client.get("/api/v1/invoices?limit=101", headers=headers), 422)


def test_no_receipt_before_the_payment_is_verified_then_a_pdf(client, db, chosen):
    url = f"/api/v1/invoices/{chosen['invoice']['id']}/receipt"
    assert _refusal(client.get(url, headers=chosen["headers"]), 409)["details"]["reason"] == "NOT_VERIFIED"
    client.post(f"/api/v1/invoices/{chosen['invoice']['id']}/verify", headers=chosen["staff"],
                json={"amount": chosen["invoice"]["expected_total"]})
    receipt = client.get(url, headers=chosen["headers"])
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf" and receipt.data.startswith(b"%PDF")


# --- Staff: the queue and the decisions ----------------------------------------------------------------------------

def test_staff_queue_shows_submitted_first_with_filters_and_a_total(client, db, chosen, api_as):
    _, other = api_as("student")
    second_class = _open_class()
    waiting = _data(_choose(client, other, second_class))
    queue = client.get("/api/v1/payments", headers=chosen["staff"]).get_json()
    assert [i["number"] for i in queue["data"]] == [chosen["invoice"]["number"], waiting["number"]]
    assert queue["meta"]["total"] == 2 and queue["data"][0]["proofs"][0]["reused"] is False
    by_state = _data(client.get("/api/v1/payments?status=pending", headers=chosen["staff"]))
    assert [i["number"] for i in by_state] == [waiting["number"]]
    by_class = _data(client.get(f"/api/v1/payments?class_id={second_class.id}", headers=chosen["staff"]))
    assert [i["number"] for i in by_class] == [waiting["number"]]
    total = Decimal(chosen["invoice"]["expected_total"])
    by_amount = _data(client.get(f"/api/v1/payments?amount={int(total):,}".replace(",", "."),
                                 headers=chosen["staff"]))
    assert [i["number"] for i in by_amount] == [chosen["invoice"]["number"]]
    _refusal(client.get("/api/v1/payments?amount=banyak", headers=chosen["staff"]), 422)
    _refusal(client.get("/api/v1/payments?status=paid", headers=chosen["staff"]), 422)
    _refusal(client.get("/api/v1/payments", headers=chosen["headers"]), 403)
    page_one = client.get("/api/v1/payments?limit=1", headers=chosen["staff"]).get_json()
    page_two = client.get(f"/api/v1/payments?limit=1&cursor={page_one['meta']['next_cursor']}",
                          headers=chosen["staff"]).get_json()
    assert [page_one["data"][0]["number"], page_two["data"][0]["number"]] == [i["number"] for i in queue["data"]]


def test_staff_see_the_events_and_verify_in_full_enrolls_once(client, db, chosen):
    invoice_id = chosen["invoice"]["id"]
    verified = _data(client.post(f"/api/v1/invoices/{invoice_id}/verify", headers=chosen["staff"],
                                 json={"amount": "1.750.999", "note": "BCA 12/01"}))
    assert verified["status"] == "verified" and verified["enrollment_id"] is not None
    assert [(e["old_status"], e["new_status"]) for e in verified["events"]] == [
        (None, "pending"), ("pending", "submitted"), ("submitted", "verified")]
    enrollment = db.session.get(ClassEnrollment, verified["enrollment_id"])
    assert enrollment.student_id == chosen["student"].id and enrollment.payment_status == "verified"
    again = _refusal(client.post(f"/api/v1/invoices/{invoice_id}/verify", headers=chosen["staff"],
                                 json={"amount": "1.750.999"}), 409)
    assert again["details"]["reason"] == "WRONG_STATE"
    _refusal(client.post(f"/api/v1/invoices/{invoice_id}/cancel", headers=chosen["staff"],
                         json={"reason": "Salah"}), 409)
    assert _data(client.get(f"/api/v1/invoices/{invoice_id}", headers=chosen["headers"]))["events"] is None


def test_verify_refusals_change_nothing(client, db, chosen):
    url = f"/api/v1/invoices/{chosen['invoice']['id']}/verify"
    _refusal(client.post(url, headers=chosen["staff"], json={"amount": "satu juta"}), 422)
    _refusal(client.post(url, headers=chosen["staff"], json={"amount": "0"}), 422)
    _refusal(client.post(url, headers=chosen["staff"], json={}), 422)
    _refusal(client.post(url, headers=chosen["headers"], json={"amount": "1750000"}), 403)
    _refusal(client.post("/api/v1/invoices/00000000-0000-0000-0000-000000000000/verify", headers=chosen["staff"],
                         json={"amount": "1750000"}), 404)
    assert db.session.scalar(select(Invoice.status)) == "submitted"


def test_less_than_due_is_partly_paid_then_reject_needs_a_reason(client, db, chosen):
    invoice_id = chosen["invoice"]["id"]
    part = _data(client.post(f"/api/v1/invoices/{invoice_id}/verify", headers=chosen["staff"],
                             json={"amount": "1.000.000"}))
    assert part["status"] == "partially_paid" and Decimal(part["amount_outstanding"]) == (
        Decimal(chosen["invoice"]["expected_total"]) - 1000000)
    _proof(client, chosen["headers"], invoice_id)
    _refusal(client.post(f"/api/v1/invoices/{invoice_id}/reject", headers=chosen["staff"], json={"reason": ""}),
             422)
    rejected = _data(client.post(f"/api/v1/invoices/{invoice_id}/reject", headers=chosen["staff"],
                                 json={"reason": "Nominal tidak terbaca"}))
    assert rejected["status"] == "rejected"
    mine = _data(client.get(f"/api/v1/invoices/{invoice_id}", headers=chosen["headers"]))
    assert mine["rejection_reason"] == "Nominal tidak terbaca"


def test_staff_cancel_an_open_invoice_and_students_cannot(client, db, api_as):
    student, headers = api_as("student")
    invoice = _data(_choose(client, headers, _open_class()))
    url = f"/api/v1/invoices/{invoice['id']}/cancel"
    _refusal(client.post(url, headers=headers, json={"reason": "Tidak jadi"}), 403)  # as on the pages: staff only
    _, staff = api_as("staff")
    _refusal(client.post(url, headers=staff, json={}), 422)
    assert _data(client.post(url, headers=staff, json={"reason": "Tidak jadi"}))["status"] == "cancelled"


def test_a_refund_removes_unused_credits_and_says_partly_refunded(client, db, chosen):
    invoice_id = chosen["invoice"]["id"]
    client.post(f"/api/v1/invoices/{invoice_id}/verify", headers=chosen["staff"],
                json={"amount": chosen["invoice"]["expected_total"]})
    url = f"/api/v1/invoices/{invoice_id}/refund"
    _refusal(client.post(url, headers=chosen["staff"], json={"credits": 11, "amount": "100.000", "reason": "x"}),
             409)  # only 10 credits are unused
    _refusal(client.post(url, headers=chosen["staff"], json={"credits": 2, "amount": "99.000.000", "reason": "x"}),
             422)
    _refusal(client.post(url, headers=chosen["headers"], json={"credits": 2, "amount": "350.000", "reason": "x"}),
             403)
    refunded = _data(client.post(url, headers=chosen["staff"],
                                 json={"credits": 2, "amount": "350.000", "reason": "Pindah kota"}))
    assert refunded["status"] == "partially_refunded" and refunded["amount_refunded"] == "350000.00"
    enrollment = db.session.get(ClassEnrollment, refunded["enrollment_id"])
    assert enrollment.credits_remaining == 8 and enrollment.payment_status == "partially_refunded"
    assert db.session.scalar(select(CreditAdjustment.reason)) == "refund"


def test_a_top_up_invoices_the_meetings_of_a_private_class(client, db, api_as):
    _, staff = api_as("staff")
    private = make_class(type="private", status="active", max_capacity=1, total_meetings=4,
                         meeting_price=Decimal("200000"))
    enrollment = make_enrollment(private)
    url = f"/api/v1/enrollments/{enrollment.id}/top-up"
    invoice = _data(client.post(url, headers=staff, json={"meetings": 5}))
    assert invoice["kind"] == "top_up" and invoice["amount_due"] == "1000000.00" and invoice["meetings"] == 5
    _refusal(client.post(url, headers=staff, json={"meetings": 51}), 422)
    group = make_enrollment(make_class(package_price=PRICE))
    _refusal(client.post(f"/api/v1/enrollments/{group.id}/top-up", headers=staff, json={"meetings": 2}), 409)
    _refusal(client.post(url, headers=api_as("student")[1], json={"meetings": 2}), 403)
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 1


def test_ten_parallel_verifies_deliver_once_and_add_the_credits_once(app, db, api_as, bearer):
    """A double tap on two staff tablets: ten verifications of one top-up at the same moment."""
    _, staff = api_as("staff")
    private = make_class(type="private", status="active", max_capacity=1, total_meetings=4,
                         meeting_price=Decimal("200000"))
    enrollment = make_enrollment(private)
    invoice = _data(app.test_client().post(f"/api/v1/enrollments/{enrollment.id}/top-up", headers=staff,
                                           json={"meetings": 5}))
    tokens = [bearer(make_user("staff")) for _ in range(10)]
    responses, errors = requests_at_once(app, lambda client, n: client.post(
        f"/api/v1/invoices/{invoice['id']}/verify", headers=tokens[n], json={"amount": invoice["expected_total"]}))
    assert errors == [] and sorted(r.status_code for r in responses) == [200] + [409] * 9
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(InvoiceDelivery)) == 1
    assert db.session.get(SchoolClass, private.id).total_meetings == 9
    assert db.session.get(ClassEnrollment, enrollment.id).credits_remaining == 9


# --- Prices, bank accounts, export ---------------------------------------------------------------------------------

def test_staff_set_prices_and_bad_amounts_change_nothing(client, db, api_as):
    _, staff = api_as("staff")
    school_class = make_class()
    url = f"/api/v1/classes/{school_class.id}/prices"
    set_ = _data(client.put(url, headers=staff, json={"package_price": "Rp 1.500.000", "meeting_price": None}))
    assert set_["package_price"] == "1500000.00" and set_["meeting_price"] is None
    _refusal(client.put(url, headers=staff, json={"package_price": "mahal"}), 422)
    db.session.expire_all()
    assert db.session.get(SchoolClass, school_class.id).package_price == Decimal("1500000")
    _refusal(client.put(url, headers=api_as("instructor")[1], json={}), 403)


def test_bank_accounts_are_set_by_a_super_admin_and_shown_to_everyone(client, db, api_as):
    _, admin = api_as("super_admin")
    _, staff = api_as("staff")
    _, student = api_as("student")
    body = {"bank_name": "BCA", "account_number": "8720123456", "account_holder": "Yayasan Baby Owl"}
    _refusal(client.post("/api/v1/bank-accounts", headers=staff, json=body), 403)
    account = _data(client.post("/api/v1/bank-accounts", headers=admin, json=body))
    _refusal(client.post("/api/v1/bank-accounts", headers=admin, json=body), 409)  # already listed
    assert [a["account_number"] for a in _data(client.get("/api/v1/bank-accounts", headers=student))] == [
        "8720123456"]
    off = _data(client.put(f"/api/v1/bank-accounts/{account['id']}/active", headers=admin, json={"active": False}))
    assert off["active"] is False
    assert _data(client.get("/api/v1/bank-accounts", headers=student)) == []
    assert len(_data(client.get("/api/v1/bank-accounts", headers=admin))) == 1


def test_the_payments_export_as_csv(client, db, chosen, api_as):
    export = client.get("/api/v1/payments/export?separator=semicolon", headers=chosen["staff"])
    text = export.get_data(as_text=True)
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert text.lstrip("\ufeff").startswith("invoice_id;number;") and chosen["invoice"]["number"] in text
    _refusal(client.get("/api/v1/payments/export", headers=chosen["headers"]), 403)


# --- The same numbers, the same statements -------------------------------------------------------------------------

def test_the_api_and_the_pages_give_the_same_invoice_total(client, db, chosen):
    invoice_id = chosen["invoice"]["id"]
    client.post(f"/api/v1/invoices/{invoice_id}/verify", headers=chosen["staff"], json={"amount": "1.000.000"})
    api = _data(client.get(f"/api/v1/invoices/{invoice_id}", headers=chosen["headers"]))
    page = signed_in_client(client.application, chosen["student"]).get(f"/account/payments/{invoice_id}").get_data(
        as_text=True)
    shown = re.search(r'<strong class="amount">([^<]*)</strong>', page).group(1)
    assert int(re.sub(r"\D", "", shown)) == int(Decimal(api["expected_total"]))
    rest = re.search(r"still due: ([^<]*)</dd>", page) or re.search(r"· [^:]*: ([^<]*)</dd>", page)
    assert int(re.sub(r"\D", "", rest.group(1))) == int(Decimal(api["amount_outstanding"]))


def test_the_invoice_lists_run_the_same_statements_whatever_the_rows(client, db, chosen, api_as, list_statements):
    lists = [("/api/v1/invoices?limit=100", chosen["headers"]), ("/api/v1/payments?limit=100", chosen["staff"])]
    few = list_statements(lists)
    for _ in range(5):
        invoice = _data(_choose(client, chosen["headers"], _open_class()))
        _proof(client, chosen["headers"], invoice["id"])
        _choose(client, api_as("student")[1], _open_class())
    assert list_statements(lists) == few
