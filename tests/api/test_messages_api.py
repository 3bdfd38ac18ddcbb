"""Messages through the JSON API: the same rules and numbers as the pages (services/messages.py)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from babyowl.models import ConversationReadAudit, Message, MessageReport
from babyowl.services import messages
from tests.api.test_api import _data, _refusal
from tests.blueprints import test_messages as pages
from tests.factories import make_enrollment, make_user
from tests.helpers import signed_in_client, text


school = pages.school  # the same school as the pages' tests


@pytest.fixture
def auth(school, bearer):
    """Bearer headers of the school's people (`school`: the pages' tests' instructor Budi, Siti and Andi)."""
    return {user.id: bearer(user) for user in (school.budi, school.siti, school.andi)}


def _start(client, headers, user):
    return client.post("/api/v1/conversations", headers=headers, json={"user_id": str(user.id)})


def _send(client, headers, conversation_id, text_):
    return _data(client.post(f"/api/v1/conversations/{conversation_id}/messages", headers=headers,
                             json={"text": text_}))


def test_a_student_writes_only_to_their_instructors_and_staff(client, db, school, auth, bearer):
    siti = auth[school.siti.id]
    started = _start(client, siti, school.budi)
    conversation = _data(started)
    assert started.status_code == 201 and conversation["kind"] == "direct" and conversation["can_write"]
    assert conversation["other_user_id"] == str(school.budi.id) and conversation["title"] == "Budi Guru"
    assert _data(_start(client, siti, school.budi))["id"] == conversation["id"]  # one per pair
    classmate = _refusal(_start(client, siti, school.andi), 409, "CONFLICT")
    assert classmate["details"]["reason"] == "CANNOT_MESSAGE" and "class conversation" in classmate["message"]
    _refusal(_start(client, siti, make_user("instructor")), 409)  # not her instructor
    assert _start(client, siti, make_user("staff")).status_code == 201
    people = [p["full_name"] for p in _data(client.get("/api/v1/messages/people", headers=siti))]
    assert "Budi Guru" in people and "Andi Wijaya" not in people
    # Teachers write to anyone; nobody writes to a suspended person.
    assert _start(client, auth[school.budi.id], school.andi).status_code == 201
    _refusal(_start(client, auth[school.budi.id], make_user("student", status="suspended")), 409)


def test_messages_come_newest_first_by_cursor_and_after_polls_the_new_ones(client, db, school, auth):
    siti = auth[school.siti.id]
    conversation_id = _data(_start(client, siti, school.budi))["id"]
    sent = [_send(client, siti, conversation_id, f"Pesan {n} **tebal** <script>x</script>") for n in range(5)]
    url = f"/api/v1/conversations/{conversation_id}/messages"
    first = client.get(f"{url}?limit=2", headers=siti).get_json()
    assert [m["id"] for m in first["data"]] == [sent[4]["id"], sent[3]["id"]] and first["meta"]["has_more"]
    second = client.get(f"{url}?limit=2&cursor={first['meta']['next_cursor']}", headers=siti).get_json()
    third = client.get(f"{url}?limit=2&cursor={second['meta']['next_cursor']}", headers=siti).get_json()
    assert [m["id"] for m in second["data"] + third["data"]] == [sent[2]["id"], sent[1]["id"], sent[0]["id"]]
    assert third["meta"]["has_more"] is False and third["meta"].get("next_cursor") is None
    assert "<strong>tebal</strong>" in sent[0]["content_html"] and "<script>" not in sent[0]["content_html"]
    polled = _data(client.get(f"{url}?after={sent[2]['id']}", headers=auth[school.budi.id]))
    assert [m["id"] for m in polled] == [sent[3]["id"], sent[4]["id"]]  # oldest first, to append
    assert _data(client.get(f"{url}?after={sent[4]['id']}", headers=siti)) == []
    _refusal(client.get(f"{url}?cursor=bm9wZQ", headers=siti), 422)
    stranger = auth[school.andi.id]
    _refusal(client.get(url, headers=stranger), 404)
    _refusal(client.get(f"{url}?after={sent[2]['id']}", headers=stranger), 404)
    _refusal(client.post(url, headers=stranger, json={"text": "Halo"}), 404)
    _refusal(client.post(url, headers=siti, json={"text": "   "}), 422)


def test_my_conversations_page_by_cursor_with_unread_counts_from_the_pointer(client, db, school, auth, bearer):
    budi = auth[school.budi.id]
    students = [make_user("student", full_name=f"Murid {n}") for n in range(3)]
    for n, student in enumerate(students):
        make_enrollment(school.python, student)
        conversation_id = _data(_start(client, bearer(student), school.budi))["id"]
        for k in range(n + 1):
            _send(client, bearer(student), conversation_id, f"Pesan {k}")
    first = client.get("/api/v1/conversations?limit=2", headers=budi).get_json()
    rest = client.get(f"/api/v1/conversations?limit=2&cursor={first['meta']['next_cursor']}", headers=budi)
    rows = first["data"] + _data(rest)
    assert [(r["title"], r["unread"]) for r in rows[:3]] == [("Murid 2", 3), ("Murid 1", 2), ("Murid 0", 1)]
    assert rows[3]["kind"] == "class" and rows[3]["title"] == "Python Sabtu"
    assert rest.get_json()["meta"]["has_more"] is False
    _refusal(client.get("/api/v1/conversations?cursor=WyJ4Il0", headers=budi), 422)


def test_marking_read_moves_the_pointer_forward_only_and_the_api_and_pages_agree(app, client, db, school, auth):
    siti, budi = auth[school.siti.id], auth[school.budi.id]
    conversation_id = _data(_start(client, siti, school.budi))["id"]
    sent = [_send(client, siti, conversation_id, f"Pesan {n}") for n in range(3)]
    _send(client, auth[school.andi.id], school.class_conversation, "Halo kelas")
    unread = _data(client.get("/api/v1/messages/unread-count", headers=budi))["unread"]
    page = signed_in_client(app, school.budi)
    badge = re.search(r'id="messages-count">(\d+)<', text(page.get("/messages/badge"))).group(1)
    assert unread == int(badge) == 4
    # Reading through the API does not move the pointer; saying what was read does.
    client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=budi)
    url = f"/api/v1/conversations/{conversation_id}/read"
    assert _data(client.post(url, headers=budi, json={"message_id": sent[1]["id"]})) == {"moved": True, "unread": 1}
    assert _data(client.post(url, headers=budi, json={"message_id": sent[0]["id"]})) == {"moved": False, "unread": 1}
    rows = {r["id"]: r["unread"] for r in _data(client.get("/api/v1/conversations", headers=budi))}
    listed = text(page.get("/messages"))
    for conversation, count in rows.items():
        shown = re.search(rf'id="unread-{conversation}">(\d+)', listed)
        assert (int(shown.group(1)) if shown else 0) == count
    assert rows == {conversation_id: 1, str(school.class_conversation): 1}
    assert _data(client.get("/api/v1/messages/unread-count", headers=budi))["unread"] == 2 == messages.unread_total(
        school.budi)
    _refusal(client.post(url, headers=auth[school.andi.id], json={"message_id": sent[2]["id"]}), 404)


def test_staff_reading_a_conversation_is_logged_as_the_page_logs_it(app, client, db, school, auth, bearer):
    staff = make_user("staff", full_name="Staf TU")
    headers = bearer(staff)
    for n in range(3):
        _send(client, auth[school.siti.id], school.class_conversation, f"Pesan {n}")
    url = f"/api/v1/conversations/{school.class_conversation}/messages"

    def audits():
        return db.session.execute(select(ConversationReadAudit.reader_id, ConversationReadAudit.conversation_id)
                                  .order_by(ConversationReadAudit.read_at)).all()

    first = client.get(f"{url}?limit=2", headers=headers).get_json()
    assert len(first["data"]) == 2 and audits() == [(staff.id, school.class_conversation)]
    # Older pages and polls are not new reads (as on the page); opening again is.
    client.get(f"{url}?limit=2&cursor={first['meta']['next_cursor']}", headers=headers)
    client.get(f"{url}?after={first['data'][0]['id']}", headers=headers)
    detail = _data(client.get(f"/api/v1/conversations/{school.class_conversation}", headers=headers))
    assert detail["is_member"] is False and len(audits()) == 1
    signed_in_client(app, staff).get(f"/messages/{school.class_conversation}")
    client.get(url, headers=headers)
    assert audits() == [(staff.id, school.class_conversation)] * 3
    client.get(url, headers=auth[school.budi.id])  # a member's read is theirs: not logged
    assert len(audits()) == 3


def test_blocking_stops_a_direct_conversation_and_unblocking_lets_it_go_on(client, db, school, auth):
    siti, budi = auth[school.siti.id], auth[school.budi.id]
    conversation_id = _data(_start(client, siti, school.budi))["id"]
    assert _data(client.put(f"/api/v1/messages/blocks/{school.budi.id}", headers=siti))["blocked"] is True
    refused = _refusal(client.post(f"/api/v1/conversations/{conversation_id}/messages", headers=budi,
                                   json={"text": "Halo"}), 409)
    assert "blocked" in refused["message"]
    assert _data(client.get(f"/api/v1/conversations/{conversation_id}", headers=budi))["can_write"] is False
    assert _data(client.delete(f"/api/v1/messages/blocks/{school.budi.id}", headers=siti))["blocked"] is False
    assert client.post(f"/api/v1/conversations/{conversation_id}/messages", headers=budi,
                       json={"text": "Halo"}).status_code == 201
    _refusal(client.put(f"/api/v1/messages/blocks/{school.siti.id}", headers=siti), 422)


def test_report_then_a_moderator_removes_with_a_reason_only_moderators_read(client, db, school, auth, bearer):
    siti, andi = auth[school.siti.id], auth[school.andi.id]
    message = _send(client, siti, school.class_conversation, "Kata kasar")
    report_url = f"/api/v1/messages/{message['id']}/report"
    first = client.post(report_url, headers=andi, json={"reason": "Tidak sopan"})
    assert first.status_code == 201 and _data(first)["status"] == "open"
    assert _data(client.post(report_url, headers=andi, json={"reason": "Lagi"}))["id"] == _data(first)["id"]
    _refusal(client.post(report_url, headers=siti, json={"reason": "Saya sendiri"}), 409)
    _refusal(client.post(report_url, headers=bearer(make_user("student")), json={"reason": "x"}), 404)
    remove_url = f"/api/v1/messages/{message['id']}/remove"
    _refusal(client.post(remove_url, headers=andi, json={"reason": "Kasar"}), 403)
    staff = bearer(make_user("staff"))
    _refusal(client.post(remove_url, headers=staff, json={"reason": ""}), 422)
    removed = _data(client.post(remove_url, headers=staff, json={"reason": "Bahasa kasar"}))
    assert removed["deleted"] and removed["removed_by_moderator"] and removed["content"] is None
    assert removed["deletion_reason"] == "Bahasa kasar"
    seen = _data(client.get(f"/api/v1/conversations/{school.class_conversation}/messages", headers=andi))[0]
    assert seen["removed_by_moderator"] and seen["deletion_reason"] is None and seen["content_html"] is None
    assert db.session.scalar(select(MessageReport.status)) == "resolved"
    _refusal(client.post(remove_url, headers=staff, json={"reason": "Lagi"}), 409)


def test_a_sender_deletes_their_own_message_and_nobody_else_does(client, db, school, auth):
    siti = auth[school.siti.id]
    message = _send(client, siti, school.class_conversation, "Salah kirim")
    _refusal(client.delete(f"/api/v1/messages/{message['id']}", headers=auth[school.budi.id]), 403)
    deleted = _data(client.delete(f"/api/v1/messages/{message['id']}", headers=siti))
    assert deleted["deleted"] and not deleted["removed_by_moderator"]
    assert db.session.get(Message, message["id"]).deleted_at is not None
    _refusal(client.delete(f"/api/v1/messages/{message['id']}", headers=siti), 409)


def test_message_lists_run_the_same_statements_whatever_the_rows(client, db, school, auth, bearer,
                                                                 list_statements):
    siti, budi = auth[school.siti.id], auth[school.budi.id]
    conversation_id = _data(_start(client, siti, school.budi))["id"]
    first = _send(client, siti, conversation_id, "Pesan pertama")
    _send(client, siti, conversation_id, "Pesan kedua")
    url = f"/api/v1/conversations/{conversation_id}/messages"
    lists = [("/api/v1/conversations?limit=100", budi), (f"{url}?limit=100", budi),
             (f"{url}?after={first['id']}", budi), ("/api/v1/messages/unread-count", budi)]

    few = list_statements(lists)
    for n in range(4):
        student = make_user("student")
        make_enrollment(school.python, student)
        other = _data(_start(client, bearer(student), school.budi))["id"]
        _send(client, bearer(student), other, "Halo")
        _send(client, siti, conversation_id, f"Lagi {n}")
    assert list_statements(lists) == few
    assert db.session.scalar(select(func.count()).select_from(Message)) >= 10


def test_a_picture_or_a_pdf_is_sent_and_served_only_to_the_conversation(client, db, school, auth, bearer):
    import io

    from PIL import Image

    siti = auth[school.siti.id]
    url = f"/api/v1/conversations/{school.class_conversation}/messages/files"
    picture = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(picture, "PNG")
    sent = client.post(url, headers=siti, data={"text": "Lihat", "file": (io.BytesIO(picture.getvalue()), "a.png")},
                       content_type="multipart/form-data")
    attachment = _data(sent)["attachments"][0]
    assert sent.status_code == 201 and attachment["content_type"] == "image/jpeg"
    pdf = _data(client.post(url, headers=siti, data={"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "tugas.pdf")},
                            content_type="multipart/form-data"))["attachments"][0]
    served = client.get(f"/api/v1/messages/files/{attachment['id']}", headers=auth[school.budi.id])
    assert served.status_code == 200 and served.mimetype == "image/jpeg" and served.data[:2] == b"\xff\xd8"
    served.close()
    document = client.get(f"/api/v1/messages/files/{pdf['id']}", headers=auth[school.andi.id])
    assert document.mimetype == "application/pdf" and "tugas.pdf" in document.headers["Content-Disposition"]
    document.close()
    _refusal(client.get(f"/api/v1/messages/files/{pdf['id']}", headers=bearer(make_user("student"))), 404)
    _refusal(client.post(url, headers=siti, data={"file": (io.BytesIO(b"MZ not a picture"), "x.exe")},
                         content_type="multipart/form-data"), 422)
    _refusal(client.post(url, headers=siti, data={"text": ""}, content_type="multipart/form-data"), 422)
