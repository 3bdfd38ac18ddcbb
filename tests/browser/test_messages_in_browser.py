"""A student and their instructor write to each other in two browsers, on phones, in Indonesian (issue 19):
each sees the other's message appear without reloading, and the unread badge clears on reading."""
from __future__ import annotations

from tests.browser.conftest import PHONE, sign_in
from tests.factories import PASSWORD, make_class, make_enrollment, make_user


def send(page, text: str) -> None:
    page.fill("#message-text", text)
    page.get_by_role("button", name="Kirim", exact=True).click()


def test_student_and_instructor_exchange_messages_live(live_server, open_page, db):
    budi = make_user("instructor", email="budi@example.com", full_name="Budi Guru", language="id")
    siti = make_user("student", email="siti@example.com", full_name="Siti Aminah", language="id")
    make_enrollment(make_class(instructor=budi, name="Python Sabtu"), siti)

    student = open_page(PHONE, locale="id-ID")
    sign_in(student, live_server, "siti@example.com", PASSWORD)
    student.goto(f"{live_server}/messages")
    assert "Kamu bisa mengirim pesan ke instruktur kelasmu dan ke staf sekolah." in student.content()
    student.get_by_role("button", name="Kirim pesan ke Budi Guru").click()
    student.wait_for_url(f"{live_server}/messages/*")
    send(student, "Halo Pak, saya izin Sabtu ini.")
    student.locator(".message.mine", has_text="Halo Pak, saya izin Sabtu ini.").wait_for()
    assert student.input_value("#message-text") == ""  # the composer is emptied for the next message
    conversation_url = student.url

    teacher = open_page(PHONE, locale="id-ID")
    sign_in(teacher, live_server, "budi@example.com", PASSWORD)
    teacher.locator("#messages-count", has_text="1").wait_for()  # the header badge on any page
    teacher.goto(conversation_url)
    teacher.get_by_text("Halo Pak, saya izin Sabtu ini.").wait_for()
    teacher.locator("#messages-badge .visually-hidden", has_text="0 pesan belum dibaca").wait_for()
    assert teacher.locator("#messages-count").count() == 0  # read on opening: the badge is cleared

    send(teacher, "Baik, Siti. Materinya bisa dibaca di pelajaran yang sudah dibuka.")
    # The student's page was never reloaded: the reply arrives by polling, then is marked read.
    student.get_by_text("Baik, Siti. Materinya bisa dibaca").wait_for(timeout=15_000)
    student.locator("#messages-count").wait_for(state="detached")
    # And the teacher sees the student's next message appear, once, without reloading.
    send(student, "Terima kasih, Pak!")
    teacher.get_by_text("Terima kasih, Pak!").wait_for(timeout=15_000)
    assert student.locator(".message", has_text="Terima kasih, Pak!").count() == 1
    assert teacher.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert student.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
