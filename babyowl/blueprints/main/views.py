from flask import Blueprint, current_app, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from babyowl import health, observability
from babyowl.authz import STAFF_ROLES
from babyowl.extensions import limiter
from babyowl.i18n import LANGUAGE_COOKIE
from babyowl.rendering import full_redirect, render
from babyowl.security import safe_next_url
from babyowl.services import student_home
from babyowl.services.dashboard import summary_for as dashboard_summary_for

bp = Blueprint("main", __name__)


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return full_redirect(url_for("main.dashboard"))
    from babyowl.services.landing import landing_page

    return render("main/index.html", **landing_page())


@bp.route("/dashboard")
@login_required
def dashboard():
    if current_user.role == "student":  # the student's home: services/student_home.py
        return render("gamification/home.html", home=student_home.home_for(current_user))
    if current_user.role in STAFF_ROLES:  # staff's own dashboard (services/staff_dashboard.py)
        from babyowl.services.staff_dashboard import staff_dashboard

        return render("dashboard/staff.html", **staff_dashboard())
    return render("main/dashboard.html", **dashboard_summary_for(current_user))


@bp.route("/language", methods=["POST"])
def set_language():
    lang = request.form.get("lang", "")
    response = full_redirect(safe_next_url(request.form.get("next")))
    if lang not in current_app.config["LANGUAGES"]:
        flash(_("That language is not available."), "error")
    else:
        response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


@bp.route("/healthz")
@limiter.exempt
def healthz():
    """Alive: no I/O at all (a restart will not fix a dead database)."""
    return make_response("ok", 200, {"Content-Type": "text/plain"})


@bp.route("/readyz")
@limiter.exempt
def readyz():
    """Ready to serve: the database and Redis answer; 503 naming what is down. Plain text, for machines."""
    states = health.readiness()
    down = health.down(states)
    lines = ["ok" if not down else "down: " + ", ".join(down)] + [f"{name}: {state}" for name, state in states.items()]
    return make_response("\n".join(lines) + "\n", 503 if down else 200,
                         {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"})


@bp.route("/metrics")
@limiter.exempt
def metrics():
    """Prometheus metrics, for a bearer of METRICS_TOKEN or an address in METRICS_ALLOWED_IPS.

    Everyone else gets a bare 404 (the page does not exist for them), and no
    answer here reads the session: a scraper must not start one.
    """
    if not observability.metrics_allowed(request, current_app.config):
        return make_response("Not Found\n", 404, {"Content-Type": "text/plain"})
    body, content_type = observability.metrics_text()
    return make_response(body, 200, {"Content-Type": content_type, "Cache-Control": "no-store"})
