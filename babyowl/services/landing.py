"""What a visitor sees first: the courses the school teaches and the classes open for enrollment now."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from babyowl.extensions import db
from babyowl.models import Course


def landing_page() -> dict:
    """Published courses, open classes with their free seats, and how to reach the school (four queries)."""
    from babyowl.services import payments

    courses = list(db.session.scalars(select(Course).where(Course.status == "published")
                                      .order_by(Course.title).limit(12)))
    open_classes = payments.open_classes()
    config = current_app.config
    return {"courses": courses, "open_classes": open_classes,
            "seats": payments.seats_left_of([c.id for c in open_classes]),
            "allow_registration": config["ALLOW_SELF_REGISTRATION"],
            "contact": {"email": config.get("SCHOOL_CONTACT_EMAIL"), "phone": config.get("SCHOOL_CONTACT_PHONE"),
                        "address": config.get("SCHOOL_ADDRESS")}}
