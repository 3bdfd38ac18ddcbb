"""A visitor becomes a paying student on a phone; staff verify on a tablet; the student then sees the class."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from tests.browser.conftest import PHONE, TABLET, sign_in
from tests.factories import PASSWORD, make_class, make_course, make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_from_the_landing_page_to_an_enrolled_student_with_credits(live_server, open_page, db):
    from babyowl.services import payments

    payments.add_bank_account(make_user("super_admin"), bank_name="BCA", account_number="8720123456",
                              account_holder="Yayasan Baby Owl")
    make_user("staff", email="staf@example.com", full_name="Sari Staf")
    course = make_course(title="Python untuk Remaja")
    school_class = make_class(course=course, name="Python Sabtu Pagi", status="enrollment_open", max_capacity=8,
                              total_meetings=12, package_price=Decimal("1750000"),
                              schedule={"days": ["Saturday"], "time": "09:00-11:00"},
                              enrollment_deadline=date.today() + timedelta(days=5),
                              start_date=date.today() + timedelta(days=6))

    # A visitor on a phone picks the class and signs up.
    phone = open_page(PHONE)
    phone.goto(live_server + "/")
    card = phone.locator("article.open-class", has_text="Python Sabtu Pagi")
    assert "1,750,000" in card.inner_text() and "8 seats left" in card.inner_text()
    card.get_by_role("link", name="Choose this class").click()
    phone.get_by_role("link", name="Sign up").click()
    phone.fill("input[name=full_name]", "Nadia Putri")
    phone.fill("input[name=email]", "nadia@example.com")
    phone.fill("input[name=password]", PASSWORD)
    phone.fill("input[name=confirm]", PASSWORD)
    phone.click("form#register-form button[type=submit]")
    phone.wait_for_url("**/welcome")
    phone.click("#profile-form button[type=submit]")
    phone.wait_for_url(f"**/enroll/{school_class.id}")
    phone.get_by_role("button", name="Enroll and get my invoice").click()
    phone.wait_for_url("**/account/payments/*")
    page_text = phone.locator("main").inner_text()
    assert "Transfer exactly" in page_text and "8720123456" in page_text
    # The proof of transfer, uploaded from the phone.
    phone.set_input_files("#proof-panel input[type=file]", files=[
        {"name": "bukti.png", "mimeType": "image/png", "buffer": PNG}])
    phone.fill("#proof-panel input[name=sender_name]", "Nadia Putri")
    phone.click("#proof-panel button[type=submit]")
    phone.get_by_text("Thank you! Your proof of transfer was sent").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Staff verify on a tablet, the proof shown inline in the queue.
    tablet = open_page(TABLET)
    sign_in(tablet, live_server, "staf@example.com", PASSWORD)
    tablet.goto(live_server + "/payments?status=submitted")
    assert tablet.locator("#payment-results img").count() == 1
    tablet.locator("#payment-results a", has_text="INV-").first.click()
    tablet.get_by_role("button", name="Verify payment").click()
    tablet.get_by_text("Payment verified.").wait_for()

    # The student now has the class, with its credits.
    phone.goto(live_server + "/dashboard")
    dashboard = phone.locator("main").inner_text()
    assert "Python Sabtu Pagi" in dashboard and "Credits remaining: 12" in dashboard
