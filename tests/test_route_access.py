"""Every route of the app, as every role and as anonymous.

Allowed roles get 2xx/3xx (a POST may also answer 4xx for an empty form, but
never a refusal); everyone else is sent to sign in (anonymous), or gets 403 or
404. A route missing from ACCESS fails `test_every_route_is_in_the_table`: add
it with the roles that may use it (see the README, "Adding a route").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest

from babyowl.authz import ALL_ROLES, STAFF_ROLES, TEACHING_ROLES
from babyowl.services import tokens
from tests.factories import make_class, make_course, make_enrollment, make_user

ANONYMOUS = "anonymous"
EVERYONE = (ANONYMOUS, *ALL_ROLES)
SIGNED_IN = ALL_ROLES
AUTHORS = ("instructor", "super_admin")


# Routes that do not exist for anyone the test signs in, anonymous included (a bare 404, no sign-in page).
NOT_FOUND_TO_EVERYONE = {"main.metrics"}


@dataclass(frozen=True)
class Route:
    allowed: tuple[str, ...]
    url: Callable[[dict], str] | str
    method: str = "GET"


def _token(purpose):
    def build(ctx):
        return tokens.make_token(purpose, ctx["other_student"])

    return build


ACCESS: dict[str, Route] = {
    "main.index": Route(EVERYONE, "/"),
    "main.healthz": Route(EVERYONE, "/healthz"),
    "main.readyz": Route(EVERYONE, "/readyz"),
    # Only a bearer of METRICS_TOKEN or a listed address (none here): 404 to every role (own tests).
    "main.metrics": Route((), "/metrics"),
    "main.set_language": Route(EVERYONE, "/language", "POST"),
    "main.dashboard": Route(SIGNED_IN, "/dashboard"),
    "auth.login": Route(EVERYONE, "/login"),
    "auth.register": Route(EVERYONE, "/register"),
    "auth.logout": Route(SIGNED_IN, "/logout", "POST"),
    "auth.forgot_password": Route(EVERYONE, "/forgot-password"),
    "auth.verify_email": Route(EVERYONE, lambda c: f"/verify-email/{_token(tokens.VERIFY_EMAIL)(c)}"),
    "auth.resend_verification": Route(SIGNED_IN, "/verify-email", "POST"),
    "auth.reset_password": Route(EVERYONE, lambda c: f"/reset-password/{_token(tokens.RESET_PASSWORD)(c)}"),
    "auth.accept_invitation": Route(EVERYONE, lambda c: f"/invitation/{_token(tokens.INVITATION)(c)}"),
    "account.onboarding": Route(SIGNED_IN, "/welcome"),
    "account.profile": Route(SIGNED_IN, "/account/profile"),
    "account.change_password": Route(SIGNED_IN, "/account/password"),
    "account.download_data": Route(SIGNED_IN, "/account/data"),
    "account.request_deletion": Route(SIGNED_IN, "/account/delete"),
    "account.signed_in_devices": Route(SIGNED_IN, "/account/sessions"),
    "account.sign_out_device": Route(SIGNED_IN, "/account/sessions/00000000-0000-0000-0000-000000000000/sign-out",
                                     "POST"),
    "account.sign_out_everywhere_else": Route(SIGNED_IN, "/account/sessions/sign-out-others", "POST"),
    "account.avatar": Route(SIGNED_IN, lambda c: f"/avatars/{c['avatar_key']}"),
    # Other people's profiles: staff only; to anyone else the page does not exist (404).
    "account.user_profile": Route(STAFF_ROLES, lambda c: f"/users/{c['other_student'].id}"),
    "admin.users_index": Route(STAFF_ROLES, "/admin/users"),
    "admin.new_user": Route(STAFF_ROLES, "/admin/users/new"),
    "admin.edit_user": Route(STAFF_ROLES, lambda c: f"/admin/users/{c['other_student'].id}/edit"),
    "admin.set_user_status": Route(STAFF_ROLES, lambda c: f"/admin/users/{c['other_student'].id}/status", "POST"),
    "admin.erase_user": Route(("super_admin",), lambda c: f"/admin/users/{c['other_student'].id}/erase", "POST"),
    "catalog.index": Route(EVERYONE, "/catalog"),
    "catalog.course_detail": Route(EVERYONE, lambda c: f"/catalog/{c['published'].slug}"),
    "catalog.cover": Route(EVERYONE, lambda c: f"/covers/{c['cover_key']}"),
    # Authoring: the course's author (an instructor) and super_admin; other instructors get 403 (own test).
    "authoring.courses_index": Route(AUTHORS, "/authoring/courses"),
    "authoring.new_course": Route(AUTHORS, "/authoring/courses/new"),
    "authoring.course": Route(AUTHORS, lambda c: f"/authoring/courses/{c['course'].id}"),
    "authoring.edit_course": Route(AUTHORS, lambda c: f"/authoring/courses/{c['course'].id}/edit"),
    "authoring.course_status": Route(AUTHORS, lambda c: f"/authoring/courses/{c['course'].id}/status", "POST"),
    "authoring.delete_course": Route(AUTHORS, lambda c: f"/authoring/courses/{c['course'].id}/delete", "POST"),
    "authoring.add_section": Route(AUTHORS, lambda c: f"/authoring/courses/{c['course'].id}/sections", "POST"),
    "authoring.rename_section": Route(AUTHORS, lambda c: f"/authoring/sections/{c['section'].id}", "POST"),
    "authoring.move_section": Route(AUTHORS, lambda c: f"/authoring/sections/{c['section'].id}/move", "POST"),
    "authoring.delete_section": Route(AUTHORS, lambda c: f"/authoring/sections/{c['section'].id}/delete", "POST"),
    "authoring.add_lesson": Route(AUTHORS, lambda c: f"/authoring/sections/{c['section'].id}/lessons", "POST"),
    "authoring.lesson": Route(AUTHORS, lambda c: f"/authoring/lessons/{c['lesson'].id}"),
    "authoring.move_lesson": Route(AUTHORS, lambda c: f"/authoring/lessons/{c['lesson'].id}/move", "POST"),
    "authoring.delete_lesson": Route(AUTHORS, lambda c: f"/authoring/lessons/{c['lesson'].id}/delete", "POST"),
    "authoring.preview_lesson": Route(AUTHORS, lambda c: f"/authoring/lessons/{c['lesson'].id}/preview"),
    "authoring.new_exercise": Route(AUTHORS, lambda c: f"/authoring/lessons/{c['lesson'].id}/exercises/new/quiz"),
    "authoring.edit_exercise": Route(AUTHORS, lambda c: f"/authoring/exercises/{c['exercise'].id}"),
    "authoring.move_exercise": Route(AUTHORS, lambda c: f"/authoring/exercises/{c['exercise'].id}/move", "POST"),
    "authoring.delete_exercise": Route(AUTHORS, lambda c: f"/authoring/exercises/{c['exercise'].id}/delete",
                                       "POST"),
    # Uploaded lesson videos: whoever may see a lesson playing it (here every role may; refusals: own tests).
    "authoring.video_file": Route(SIGNED_IN, lambda c: f"/authoring/videos/{c['video_key']}"),
    # Classes: staff manage; the class's instructor teaches; its students see it. Others: 404 (own tests).
    "classes.index": Route(TEACHING_ROLES, "/classes"),
    "classes.new_class": Route(STAFF_ROLES, "/classes/new"),
    "classes.show": Route(SIGNED_IN, lambda c: f"/classes/{c['class'].id}"),
    "classes.edit_class": Route(STAFF_ROLES, lambda c: f"/classes/{c['class'].id}/edit"),
    "classes.change_status": Route(STAFF_ROLES, lambda c: f"/classes/{c['class'].id}/status", "POST"),
    "classes.enroll": Route(STAFF_ROLES, lambda c: f"/classes/{c['class'].id}/enrollments", "POST"),
    "classes.find_students": Route(STAFF_ROLES, lambda c: f"/classes/{c['class'].id}/students?q=an"),
    "classes.withdraw": Route(STAFF_ROLES, lambda c: f"/enrollments/{c['enrollment'].id}/withdraw", "POST"),
    "classes.unlock_lesson": Route(AUTHORS, lambda c: f"/classes/{c['class'].id}/unlock-lesson", "POST"),
    "classes.continue_private": Route(STAFF_ROLES, lambda c: f"/classes/{c['class'].id}/continue"),
    "classes.lesson": Route(SIGNED_IN, lambda c: f"/classes/{c['class'].id}/lessons/{c['lesson'].id}"),
    # Attendance: the class's instructor and staff; students 403, other instructors 404 (own tests).
    "attendance.take": Route(TEACHING_ROLES, lambda c: f"/classes/{c['class'].id}/attendance"),
    "attendance.save_sheet": Route(TEACHING_ROLES, lambda c: f"/classes/{c['class'].id}/attendance", "POST"),
    "attendance.mark": Route(TEACHING_ROLES, lambda c: f"/classes/{c['class'].id}/attendance/mark", "POST"),
    "attendance.all_present": Route(TEACHING_ROLES, lambda c: f"/classes/{c['class'].id}/attendance/all-present",
                                    "POST"),
    "attendance.out_of_credits": Route(STAFF_ROLES, "/attendance/out-of-credits"),
    "attendance.csrf_token": Route(TEACHING_ROLES, "/attendance/csrf-token"),
    # Credits: the student reads their own; the class's instructor and staff adjust and correct.
    "credits.history": Route(SIGNED_IN, lambda c: f"/enrollments/{c['enrollment'].id}/credits"),
    "credits.adjust": Route(TEACHING_ROLES, lambda c: f"/enrollments/{c['enrollment'].id}/credits/adjust", "POST"),
    "credits.correct_mark": Route(TEACHING_ROLES, lambda c: f"/enrollments/{c['enrollment'].id}/meetings/1/mark",
                                  "POST"),
    # Coding: a student submits (the context's material exercise is refused with 422, not 403);
    # the submission is seen by its student, the class's instructor and staff.
    "coding.submit": Route(("student",), lambda c: f"/exercises/{c['exercise'].id}/submissions", "POST"),
    "coding.submission": Route(SIGNED_IN, lambda c: f"/submissions/{c['coding_submission'].id}"),
    "coding.exercise": Route(SIGNED_IN, lambda c: f"/exercises/{c['coding'].id}/code"),
    "coding.runner": Route(EVERYONE, "/coding/runner"),
    "coding.history": Route(SIGNED_IN, lambda c: f"/exercises/{c['coding'].id}/submissions"),
    # Public like the Pyodide files: the runner frame (opaque origin) fetches them without cookies.
    "coding.package_file": Route(EVERYONE, "/pyodide-packages/pyodide-lock.json"),
    # Reports: staff across classes; a class's own reports for its instructor too.
    "reports.index": Route(STAFF_ROLES, "/reports"),
    "reports.attendance_csv": Route(STAFF_ROLES, "/reports/attendance.csv"),
    "reports.attendance_xlsx": Route(STAFF_ROLES, "/reports/attendance.xlsx"),
    "reports.reconciliation": Route(STAFF_ROLES, "/reports/reconciliation"),
    "reports.request_export": Route(STAFF_ROLES, "/reports/exports", "POST"),
    "reports.exported": Route(STAFF_ROLES, lambda c: _export_link(c)),
    "reports.class_report": Route(TEACHING_ROLES, lambda c: f"/classes/{c['class'].id}/attendance/report"),
    "reports.class_csv": Route(TEACHING_ROLES, lambda c: f"/classes/{c['class'].id}/attendance/report.csv"),
    "reports.class_xlsx": Route(TEACHING_ROLES, lambda c: f"/classes/{c['class'].id}/attendance/report.xlsx"),
    "reports.class_pdf": Route(TEACHING_ROLES, lambda c: f"/classes/{c['class'].id}/attendance/report.pdf"),
    # Learning: students work in the lessons their class unlocked; the class's instructor grades and follows
    # progress. Other students, other instructors, locked lessons: own tests (403/404).
    "learn.my_classes": Route(("student",), "/learn"),
    "learn.my_progress": Route(("student",), "/learn/progress"),
    "learn.lesson": Route(("student",), lambda c: f"/learn/classes/{c['class'].id}/lessons/{c['lesson'].id}"),
    "learn.complete": Route(("student",), lambda c: _exercise_url(c, "exercise", "complete"), "POST"),
    "learn.report_progress": Route(("student",), lambda c: _exercise_url(c, "exercise", "progress"), "POST"),
    "learn.quiz": Route(("student",), lambda c: _exercise_url(c, "quiz", "quiz")),
    "learn.submit_quiz": Route(("student",), lambda c: _exercise_url(c, "quiz", "quiz"), "POST"),
    "learn.submit_assignment": Route(("student",), lambda c: _exercise_url(c, "assignment", "submissions"), "POST"),
    "learn.submission_file": Route(SIGNED_IN, lambda c: f"/learn/submissions/{c['submission'].id}/file"),
    "learn.grading_queue": Route(AUTHORS, "/learn/grading"),
    "learn.grade": Route(AUTHORS, lambda c: f"/learn/submissions/{c['submission'].id}"),
    "learn.class_progress": Route(TEACHING_ROLES, lambda c: f"/classes/{c['class'].id}/progress"),
    # Announcements: the class's instructor and staff write; its students read what was sent (own tests for
    # other instructors: 403, students of other classes: 404). Notifications: each person their own.
    "announcements.index": Route(SIGNED_IN, lambda c: f"/classes/{c['class'].id}/announcements"),
    "announcements.create": Route(TEACHING_ROLES, lambda c: f"/classes/{c['class'].id}/announcements", "POST"),
    "announcements.show": Route(SIGNED_IN, lambda c: f"/announcements/{_announcement(c, sent=True).id}"),
    "announcements.edit": Route(TEACHING_ROLES, lambda c: f"/announcements/{_announcement(c).id}/edit"),
    "announcements.cancel": Route(TEACHING_ROLES, lambda c: f"/announcements/{_announcement(c).id}/cancel", "POST"),
    "notifications.index": Route(SIGNED_IN, "/notifications"),
    "notifications.bell": Route(SIGNED_IN, "/notifications/bell"),
    "notifications.mark_read": Route(SIGNED_IN, lambda c: f"/notifications/{_own_notification(c).id}/read", "POST"),
    "notifications.mark_all_read": Route(SIGNED_IN, "/notifications/read-all", "POST"),
    "notifications.preferences": Route(SIGNED_IN, "/notifications/preferences"),
    "notifications.unsubscribe": Route(EVERYONE, lambda c: f"/unsubscribe/{_unsubscribe_token(c)}"),
    "notifications.failed_mail_index": Route(STAFF_ROLES, "/admin/failed-mail"),
    "notifications.resend_mail": Route(STAFF_ROLES, "/admin/failed-mail/some-job/resend", "POST"),
    # Gamification: boards of one's own classes (others 404), badges for everyone signed in, Open Badges
    # documents public (an unshared assertion is a 404 to everyone: own tests), bonus XP for staff.
    "gamification.leaderboard": Route(SIGNED_IN, "/leaderboard"),
    "gamification.class_leaderboard": Route(("student", "instructor", *STAFF_ROLES),
                                            lambda c: f"/leaderboard/{c['class'].id}"),
    "gamification.leaderboard_settings": Route(("instructor", *STAFF_ROLES),
                                               lambda c: f"/leaderboard/{c['class'].id}/settings", "POST"),
    "gamification.preferences": Route(("student",), "/leaderboard/preferences", "POST"),
    "gamification.badge_list": Route(SIGNED_IN, "/badges"),
    "gamification.badge": Route(SIGNED_IN, lambda c: f"/badges/{_badge(c).id}"),
    "gamification.share_badge": Route(("student", *STAFF_ROLES), lambda c: f"/my-badges/{_held_badge(c).id}/share",
                                      "POST"),
    "gamification.ob_issuer": Route(EVERYONE, "/ob/issuer"),
    "gamification.ob_badge": Route(EVERYONE, lambda c: f"/ob/badges/{_badge(c).id}"),
    "gamification.ob_assertion": Route(EVERYONE, lambda c: f"/ob/assertions/{_held_badge(c, shared=True).id}"),
    "gamification.give_bonus": Route(STAFF_ROLES, lambda c: f"/users/{c['other_student'].id}/xp", "POST"),
    # Messages: the class conversation's members (its student and instructor here) and staff, who read any
    # conversation (logged); marking read and muting are a member's. Rules by role and person: own tests.
    "messages.index": Route(SIGNED_IN, "/messages"),
    "messages.badge": Route(SIGNED_IN, "/messages/badge"),
    "messages.start": Route(SIGNED_IN, "/messages/new", "POST"),
    "messages.show": Route(SIGNED_IN, lambda c: f"/messages/{_conversation(c)}"),
    "messages.poll": Route(SIGNED_IN, lambda c: f"/messages/{_conversation(c)}/new"),
    "messages.send": Route(SIGNED_IN, lambda c: f"/messages/{_conversation(c)}", "POST"),
    "messages.mark_read": Route(("student", "instructor"), lambda c: f"/messages/{_conversation(c)}/read", "POST"),
    "messages.mute": Route(("student", "instructor"), lambda c: f"/messages/{_conversation(c)}/mute", "POST"),
    "messages.join": Route(STAFF_ROLES, lambda c: f"/messages/{_conversation(c)}/join", "POST"),
    "messages.delete": Route(("student",), lambda c: f"/messages/m/{_message(c).id}/delete", "POST"),
    "messages.remove": Route(STAFF_ROLES, lambda c: f"/messages/m/{_message(c).id}/remove", "POST"),
    "messages.report": Route(SIGNED_IN, lambda c: f"/messages/m/{_message(c).id}/report"),
    "messages.attachment": Route(SIGNED_IN, lambda c: f"/messages/files/{_attachment(c).id}"),
    "messages.block": Route(SIGNED_IN, lambda c: f"/messages/block/{c['other_student'].id}", "POST"),
    "messages.unblock": Route(SIGNED_IN, lambda c: f"/messages/unblock/{c['other_student'].id}", "POST"),
    "messages.all_conversations": Route(STAFF_ROLES, "/messages/all"),
    "messages.reports": Route(STAFF_ROLES, "/messages/reports"),
    "messages.resolve": Route(STAFF_ROLES, lambda c: f"/messages/reports/{_report(c).id}/resolve", "POST"),
    "messages.audit": Route(("super_admin",), "/messages/audit"),
    # Community: every signed-in person of the school, never anonymous; moderation is staff's. A post or comment
    # of someone else deleted, a group managed by a non-admin: own tests (403/404).
    "community.feed": Route(SIGNED_IN, "/community"),
    "community.create_post": Route(SIGNED_IN, "/community/posts", "POST"),
    "community.show_post": Route(SIGNED_IN, lambda c: f"/community/posts/{_community(c)['post'].id}"),
    "community.like": Route(SIGNED_IN, lambda c: f"/community/posts/{_community(c)['post'].id}/like", "POST"),
    "community.unlike": Route(SIGNED_IN, lambda c: f"/community/posts/{_community(c)['post'].id}/unlike", "POST"),
    "community.add_comment": Route(SIGNED_IN, lambda c: f"/community/posts/{_community(c)['post'].id}/comments",
                                   "POST"),
    "community.delete_post": Route(SIGNED_IN, lambda c: f"/community/posts/{_community(c)['own_post'].id}/delete",
                                   "POST"),
    "community.edit_post": Route(SIGNED_IN, lambda c: f"/community/posts/{_community(c)['own_post'].id}/edit"),
    "community.delete_comment": Route(
        SIGNED_IN, lambda c: f"/community/comments/{_community(c)['own_comment'].id}/delete", "POST"),
    "community.report_post": Route(SIGNED_IN, lambda c: f"/community/posts/{_community(c)['post'].id}/report",
                                   "POST"),
    "community.report_comment": Route(
        SIGNED_IN, lambda c: f"/community/comments/{_community(c)['comment'].id}/report", "POST"),
    "community.image": Route(SIGNED_IN, lambda c: f"/community/images/{_community(c)['image_key']}"),
    "community.moderation": Route(STAFF_ROLES, "/community/moderation"),
    "community.moderate_post": Route(STAFF_ROLES, lambda c: f"/community/moderation/posts/{_community(c)['post'].id}",
                                     "POST"),
    "community.moderate_comment": Route(
        STAFF_ROLES, lambda c: f"/community/moderation/comments/{_community(c)['comment'].id}", "POST"),
    "community.save_settings": Route(STAFF_ROLES, "/community/moderation/settings", "POST"),
    "community.groups": Route(SIGNED_IN, "/community/groups"),
    "community.create_group": Route(SIGNED_IN, "/community/groups", "POST"),
    "community.show_group": Route(SIGNED_IN, lambda c: f"/community/groups/{_community(c)['group'].id}"),
    "community.join_group": Route(SIGNED_IN, lambda c: f"/community/groups/{_community(c)['group'].id}/join", "POST"),
    "community.leave_group": Route(SIGNED_IN, lambda c: f"/community/groups/{_community(c)['group'].id}/leave",
                                   "POST"),
    "community.invite": Route(STAFF_ROLES, lambda c: f"/community/groups/{_community(c)['group'].id}/invite", "POST"),
    # The group's creator and staff (here: staff; the creator's own test).
    "community.set_member_role": Route(
        STAFF_ROLES, lambda c: f"/community/groups/{_community(c)['group'].id}/members/{c['other_student'].id}/role",
        "POST"),
    # Asking to join an open group is refused with a message (409 → back to the group), not hidden.
    "community.request_to_join": Route(SIGNED_IN, lambda c: f"/community/groups/{_community(c)['group'].id}/request",
                                       "POST"),
    "community.answer_request": Route(
        STAFF_ROLES, lambda c: f"/community/groups/{_community(c)['group'].id}/requests/{c['other_student'].id}",
        "POST"),
    "community.review_group": Route(STAFF_ROLES, lambda c: f"/community/groups/{_community(c)['group'].id}/review",
                                    "POST"),
    "community.events": Route(SIGNED_IN, "/community/events"),
    "community.create_event": Route(TEACHING_ROLES, "/community/events", "POST"),
    "community.show_event": Route(SIGNED_IN, lambda c: f"/community/events/{_community(c)['event'].id}"),
    "community.rsvp": Route(SIGNED_IN, lambda c: f"/community/events/{_community(c)['event'].id}/rsvp", "POST"),
    "community.event_ics": Route(SIGNED_IN, lambda c: f"/community/events/{_community(c)['event'].id}.ics"),
    # For calendar apps, which cannot sign in: the signed link is the key.
    "community.calendar": Route(EVERYONE, lambda c: f"/community/calendar/{_calendar_token(c)}.ics"),
    # Payments: staff check and decide; a student sees and pays their own invoices (another's: 404, own tests);
    # super_admin sets the bank accounts; anyone may look at a class open for enrollment, a student picks it.
    "payments.queue": Route(STAFF_ROLES, "/payments"),
    "payments.show": Route(STAFF_ROLES, lambda c: f"/payments/{c['invoice'].id}"),
    "payments.verify": Route(STAFF_ROLES, lambda c: f"/payments/{c['invoice'].id}/verify", "POST"),
    "payments.reject": Route(STAFF_ROLES, lambda c: f"/payments/{c['invoice'].id}/reject", "POST"),
    "payments.cancel": Route(STAFF_ROLES, lambda c: f"/payments/{c['invoice'].id}/cancel", "POST"),
    "payments.refund": Route(STAFF_ROLES, lambda c: f"/payments/{c['invoice'].id}/refund", "POST"),
    "payments.export_csv": Route(STAFF_ROLES, "/payments.csv"),
    "payments.export_xlsx": Route(STAFF_ROLES, "/payments.xlsx"),
    "payments.prices": Route(STAFF_ROLES, "/payments/prices"),
    "payments.set_prices": Route(STAFF_ROLES, lambda c: f"/classes/{c['class'].id}/prices", "POST"),
    "payments.top_up": Route(STAFF_ROLES, lambda c: f"/enrollments/{c['enrollment'].id}/top-up"),
    "payments.bank_accounts": Route(("super_admin",), "/payments/bank-accounts"),
    "payments.set_bank_account_active": Route(
        ("super_admin",), lambda c: f"/payments/bank-accounts/{c['bank_account'].id}/active", "POST"),
    "payments.my_invoices": Route(SIGNED_IN, "/account/payments"),
    # The invoice's student, and staff (sent on to their own page); an instructor: 404.
    "payments.my_invoice": Route(("student", *STAFF_ROLES), lambda c: f"/account/payments/{c['invoice'].id}"),
    "payments.upload_proof": Route(("student", *STAFF_ROLES), lambda c: f"/payments/{c['invoice'].id}/proofs",
                                   "POST"),
    "payments.proof_file": Route(("student", *STAFF_ROLES), lambda c: f"/payments/proofs/{c['proof'].id}"),
    "payments.receipt": Route(("student", *STAFF_ROLES), lambda c: f"/payments/{c['paid_invoice'].id}/receipt.pdf"),
    "payments.choose_class": Route(EVERYONE, lambda c: f"/enroll/{c['open_class'].id}"),
    "payments.hold_seat": Route(("student",), lambda c: f"/enroll/{c['open_class'].id}", "POST"),
}


def _badge(ctx):
    from babyowl.extensions import db
    from babyowl.models import Badge

    badge = Badge(slug=f"b-{ctx['class'].id.hex[:8]}", name="Badge", rarity="common", criteria={"type": "never"})
    db.session.add(badge)
    db.session.commit()
    return badge


def _held_badge(ctx, shared=False):
    """A badge held by the signed-in user when a student (else by a student of the class)."""
    from babyowl.extensions import db
    from babyowl.models import UserBadge
    from babyowl.models.base import utcnow

    held = UserBadge(user_id=ctx["enrollment"].student_id, badge_id=_badge(ctx).id,
                     shared_at=utcnow() if shared else None, recipient_salt="s" if shared else None)
    db.session.add(held)
    db.session.commit()
    return held


def _conversation(ctx):
    """The class's conversation: its student and instructor are members (the signed-in one among them)."""
    from babyowl.extensions import db
    from babyowl.services.messages import sync_class_conversation

    conversation_id = sync_class_conversation(ctx["class"])
    db.session.commit()
    return conversation_id


def _message(ctx):
    """A message of the class's student in the class conversation."""
    from babyowl.extensions import db
    from babyowl.models import Message

    message = Message(conversation_id=_conversation(ctx), sender_id=ctx["enrollment"].student_id, content="Halo",
                      content_html="<p>Halo</p>")
    db.session.add(message)
    db.session.commit()
    return message


def _attachment(ctx):
    from babyowl.extensions import db
    from babyowl.models import MessageAttachment
    from babyowl.storage import get_storage

    message = _message(ctx)
    key = f"messages/{message.conversation_id.hex}/0123456789abcdef0123456789abcdef.pdf"
    get_storage().save(key, b"%PDF-1.4", "application/pdf")
    attachment = MessageAttachment(message_id=message.id, storage_key=key, file_name="tugas.pdf",
                                   content_type="application/pdf", size_bytes=8)
    db.session.add(attachment)
    db.session.commit()
    return attachment


def _report(ctx):
    from babyowl.extensions import db
    from babyowl.models import MessageReport

    report = MessageReport(message_id=_message(ctx).id, reporter_id=ctx["other_student"].id, reason="Kasar")
    db.session.add(report)
    db.session.commit()
    return report


def _exercise_url(c, name, action):
    return f"/learn/classes/{c['class'].id}/exercises/{c[name].id}/{action}"


def _announcement(ctx, sent=False):
    from babyowl.extensions import db
    from babyowl.models import Announcement
    from babyowl.models.base import utcnow

    school_class = ctx["class"]
    announcement = Announcement(class_id=school_class.id, instructor_id=school_class.instructor_id, title="Info",
                                content="Teks", content_html="<p>Teks</p>", sent_at=utcnow() if sent else None)
    db.session.add(announcement)
    db.session.commit()
    return announcement


def _own_notification(ctx):
    """A notification of the signed-in user: the first user the test made (login_as runs before the context)."""
    from sqlalchemy import select

    from babyowl.extensions import db
    from babyowl.models import Notification, User

    user = db.session.scalars(select(User).order_by(User.created_at, User.id)).first()
    notification = Notification(user_id=user.id, type="announcement", title="Info", message="Teks")
    db.session.add(notification)
    db.session.commit()
    return notification


def _community(ctx):
    """A school post with a comment and a picture by another student, the signed-in person's own post and
    comment, an open group made by an instructor, and an event next week."""
    from datetime import time, timedelta

    from sqlalchemy import select

    from babyowl.extensions import db
    from babyowl.models import (
        CommunityComment, CommunityEvent, CommunityGroup, CommunityGroupInvitation, CommunityGroupMember,
        CommunityPost, CommunityPostImage, User,
    )
    from babyowl.services.school_time import school_today
    from babyowl.storage import get_storage

    if "community" in ctx:
        return ctx["community"]
    me = db.session.scalars(select(User).order_by(User.created_at, User.id)).first()
    other = ctx["other_student"]
    post = CommunityPost(author_id=other.id, content="Halo", content_html="<p>Halo</p>")
    own_post = CommunityPost(author_id=me.id, content="Punyaku", content_html="<p>Punyaku</p>")
    db.session.add_all([post, own_post])
    db.session.flush()
    image_key = "community/0123456789abcdef0123456789abcdef.jpg"
    get_storage().save(image_key, b"\xff\xd8\xff", "image/jpeg")
    creator = make_user("instructor")
    group = CommunityGroup(name="Klub Python", created_by=creator.id, members_count=2)
    db.session.add(group)
    db.session.flush()
    comment = CommunityComment(post_id=post.id, author_id=other.id, content="Keren", content_html="<p>Keren</p>")
    own_comment = CommunityComment(post_id=post.id, author_id=me.id, content="Ya", content_html="<p>Ya</p>")
    event = CommunityEvent(title="Workshop", event_date=school_today() + timedelta(days=7), start_time=time(9),
                           end_time=time(11), location="Online", online=True, created_by=creator.id)
    db.session.add_all([comment, own_comment, event, CommunityPostImage(post_id=post.id, position=0,
                                                                        storage_key=image_key),
                        CommunityGroupMember(group_id=group.id, user_id=creator.id, role="creator"),
                        CommunityGroupMember(group_id=group.id, user_id=other.id, role="member"),
                        CommunityGroupInvitation(group_id=group.id, user_id=other.id, kind="request")])
    db.session.commit()
    ctx["community"] = {"post": post, "own_post": own_post, "comment": comment, "own_comment": own_comment,
                        "group": group, "event": event, "image_key": image_key}
    return ctx["community"]


def _calendar_token(ctx):
    from babyowl.services.community_events import calendar_token

    return calendar_token(ctx["other_student"])


def _unsubscribe_token(ctx):
    from babyowl.services.notifications import unsubscribe_token

    return unsubscribe_token(ctx["other_student"], "announcement")


def _export_link(ctx):
    """A download link of a large export, signed for the signed-in person (each link is its owner's only)."""
    import uuid

    from babyowl.services.attendance_reports import export_token
    from babyowl.storage import get_storage

    get_storage().save("exports/route-access.csv", b"a,b\r\n", "text/csv")
    owner = ctx["user"].id if ctx["user"] is not None else uuid.uuid4()
    return f"/reports/exports/{export_token(owner, 'exports/route-access.csv', 'attendance.csv')}"


def test_every_route_is_in_the_table(app):
    # The JSON API has its own half of this table, with bearer tokens: tests/api/test_access.py.
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if not rule.endpoint.startswith("api.")} - {"static"}
    assert sorted(endpoints - ACCESS.keys()) == [], "add these routes to ACCESS"
    assert sorted(ACCESS.keys() - endpoints) == [], "these routes no longer exist"


@pytest.fixture
def build_context(app, db, tmp_path):
    """Objects the URLs point at, made after signing in so the instructor owns the course."""
    from babyowl.storage import get_storage

    (tmp_path / "pyodide-lock.json").write_text('{"info": {}, "packages": {}}')
    app.config["PYODIDE_PACKAGES_DIR"] = str(tmp_path)

    def build(user):
        storage = get_storage()
        keys = {prefix: f"{prefix}/0123456789abcdef0123456789abcdef{ext}"
                for prefix, ext in (("avatars", ".jpg"), ("covers", ".jpg"), ("videos", ".mp4"),
                                    ("submissions", ".pdf"))}
        for prefix, key in keys.items():
            storage.save(key, b"\xff\xd8\xff", "image/jpeg" if prefix != "videos" else "video/mp4")
        author = user if user is not None and user.role == "instructor" else make_user("instructor")
        course = make_course(author=author, status="draft", lessons=1)
        section = course.sections[0]
        lesson = section.lessons[0]
        school_class = make_class(course=course, instructor=user if user is not None and user.role == "instructor"
                                  else make_user("instructor"))
        student = user if user is not None and user.role == "student" else make_user("student")
        enrollment = make_enrollment(school_class, student)
        from babyowl.extensions import db
        from babyowl.models import CodingSubmission, Exercise, LessonUnlock

        db.session.add(LessonUnlock(class_id=school_class.id, lesson_id=lesson.id))
        coding_submission = CodingSubmission(user_id=student.id, exercise_id=lesson.exercises[0].id, code="print(1)")
        coding = Exercise(lesson_id=lesson.id, title="Code", type="coding", order_index=9, content={
            "mode": "playground", "starterCode": "print(1)", "testCases": [], "timeLimit": 5})
        db.session.add_all([coding_submission, coding])
        db.session.commit()
        from babyowl.models import AssignmentSubmission
        from tests.learning_data import ASSIGNMENT, QUIZ, exercise

        learning = {"quiz": exercise(lesson, "quiz", QUIZ), "assignment": exercise(lesson, "assignment", ASSIGNMENT)}
        exercise(lesson, "video", {"source": "file", "fileKey": keys["videos"], "duration": 60})
        learning["submission"] = AssignmentSubmission(
            exercise_id=learning["assignment"].id, student_id=student.id, type="file", file_url=keys["submissions"],
            file_name="tugas.pdf", file_size=3, max_grade=50)
        db.session.add(learning["submission"])
        db.session.commit()
        payments_context = _payments_context(school_class, student, storage)
        return {**learning, **payments_context, "class": school_class, "enrollment": enrollment,
                "other_student": make_user("student"),
                "avatar_key": keys["avatars"], "cover_key": keys["covers"],
                "video_key": keys["videos"], "published": make_course(status="published"), "course": course,
                "section": section, "lesson": lesson, "exercise": lesson.exercises[0],
                "coding_submission": coding_submission, "coding": coding, "user": user}

    return build


def _payments_context(school_class, student, storage):
    """An invoice of the student (with a proof), a verified one, and a priced class open for enrollment."""
    from datetime import date, timedelta
    from decimal import Decimal

    from babyowl.extensions import db
    from babyowl.models import BankAccount, Invoice, InvoiceEvent, PaymentProof
    from babyowl.models.base import utcnow

    def invoice(code, status):
        row = Invoice(number=f"INV-T-{code}", kind="enrollment", student_id=student.id, class_id=school_class.id,
                      meetings=10, amount_due=Decimal("100000"), unique_code=code,
                      expected_total=Decimal("100000") + code, status=status, due_at=utcnow() + timedelta(days=3),
                      amount_received=Decimal("100000") if status == "verified" else Decimal("0"))
        db.session.add(row)
        db.session.flush()
        db.session.add(InvoiceEvent(invoice_id=row.id, old_status=None, new_status=status))
        return row

    open_invoice, paid = invoice(1, "submitted"), invoice(2, "verified")
    key = "payment-proofs/0123456789abcdef0123456789abcdef.png"
    storage.save(key, b"\x89PNG\r\n\x1a\n", "image/png")
    proof = PaymentProof(invoice_id=open_invoice.id, file_key=key, file_name="bukti.png", content_type="image/png",
                         file_size=8, sha256="0" * 64)
    account = BankAccount(bank_name="BCA", account_number="123", account_holder="Sekolah")
    db.session.add_all([proof, account])
    db.session.commit()
    open_class = make_class(status="enrollment_open", package_price=Decimal("1500000"),
                            enrollment_deadline=date.today() + timedelta(days=5))
    return {"invoice": open_invoice, "paid_invoice": paid, "proof": proof, "open_class": open_class,
            "bank_account": account}


def _is_login_redirect(response) -> bool:
    target = response.headers.get("Location", "") or response.headers.get("HX-Redirect", "")
    # A refusal sends the person to sign in and back (`next=`); a plain /login
    # redirect after success (e.g. an address confirmed) is not a refusal.
    return response.status_code in (302, 303, 204) and target.startswith("/login?next=")


@pytest.mark.parametrize("role", EVERYONE)
@pytest.mark.parametrize("endpoint", sorted(ACCESS))
def test_route_access(client, login_as, build_context, endpoint, role):
    route = ACCESS[endpoint]
    user = login_as(role) if role != ANONYMOUS else None
    context = build_context(user)
    url = route.url(context) if callable(route.url) else route.url
    response = client.open(url, method=route.method)
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    refused = _is_login_redirect(response) or response.status_code in (403, 404)
    if role in route.allowed:
        assert not refused, f"{role} refused on {endpoint}: {response.status_code}"
        if route.method == "GET":
            assert 200 <= response.status_code < 400
    else:
        assert refused, f"{role} let through on {endpoint}: {response.status_code}"
        if role == ANONYMOUS and endpoint not in NOT_FOUND_TO_EVERYONE:
            assert _is_login_redirect(response)
