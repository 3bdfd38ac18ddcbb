"""Staff enrolling through htmx in a real browser (defect 10): confirmation, empty form, the offered account."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from tests.browser.conftest import PHONE, sign_in
from tests.factories import PASSWORD, make_class, make_user


def test_an_existing_email_is_offered_then_enrolled_and_the_form_empties(live_server, open_page, db):
    make_user("staff", email="staf@example.com", full_name="Sari Staf")
    make_user("student", full_name="Vina Hidayat", email="vina@example.com")
    school_class = make_class(status="enrollment_open", max_capacity=3, package_price=Decimal("1500000"),
                              enrollment_deadline=date.today() + timedelta(days=3))
    page = open_page(PHONE)
    sign_in(page, live_server, "staf@example.com", PASSWORD)
    page.goto(f"{live_server}/classes/{school_class.id}")
    page.fill("#enroll-form input[name=full_name]", "Vina Hidayati")
    page.fill("#enroll-form input[name=email]", "vina@example.com")
    page.fill("#enroll-form input[name=paid_at_desk]", "Rp 1.500.000,00")
    page.click("#enroll-form button.primary")
    page.get_by_text("vina@example.com already belongs to Vina Hidayat.").wait_for()
    assert page.input_value("#enroll-form input[name=paid_at_desk]") == "Rp 1.500.000,00"
    page.click("#existing-account button")
    page.get_by_text("Vina Hidayat is enrolled with 10 meeting credits.").wait_for()
    for name in ("full_name", "email", "paid_at_desk"):
        assert page.input_value(f"#enroll-form input[name={name}]") == ""
    assert "1,500,000" in page.locator("#enroll-panel table").inner_text()  # shown in English here
    # The roster scrolls in its own box (its hidden column labels included), never the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
