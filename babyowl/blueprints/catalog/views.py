"""The course catalog: public, searchable, with each course's syllabus."""
from __future__ import annotations

from flask import Blueprint, request

from babyowl.blueprints.params import page_number
from babyowl.models import COURSE_LEVELS
from babyowl.rendering import render
from babyowl.services import catalog
from babyowl.storage import serve_file

bp = Blueprint("catalog", __name__)


@bp.route("/catalog")
def index():
    filters = {
        "q": request.args.get("q", "")[:100],
        "category": request.args.get("category", "")[:100],
        "level": request.args.get("level", "") if request.args.get("level") in COURSE_LEVELS else "",
    }
    page = catalog.search(**filters, page=page_number())
    return render("catalog/index.html", block="results", page=page, filters=filters,
                  lesson_counts=catalog.lesson_counts(page.items), categories=catalog.categories(),
                  levels=COURSE_LEVELS)


@bp.route("/catalog/<slug>")
def course_detail(slug: str):
    return render("catalog/course.html", course=catalog.published_course(slug))


@bp.route("/covers/<path:key>")
def cover(key: str):
    # Covers are shown in the public catalog, so they need no sign-in.
    return serve_file(catalog.cover_key(key), cache_control="public, max-age=604800, immutable")
