"""The JSON API's gamification: levels, XP, streaks, leaderboards and badges as the pages show them."""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from babyowl.models import UserBadge, XPTransaction
from tests.api.test_api import _data, _refusal
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import requests_at_once, signed_in_client


@pytest.fixture
def school(db, bearer):
    """A class with its instructor and three students; a staff member; everyone's bearer headers."""
    instructor = make_user("instructor")
    school_class = make_class(instructor=instructor)
    students = [make_user("student", full_name=name) for name in ("Andi", "Dewi", "Eko")]
    for student in students:
        make_enrollment(school_class, student)
    staff = make_user("staff")
    return {"class": school_class, "students": students, "instructor": instructor, "staff": staff,
            "headers": {user.id: bearer(user) for user in (*students, instructor, staff)}}


def _earn(client, headers, student, amount, reason="Membantu teman", **extra):
    body = {"user_id": str(student.id), "amount": amount, "reason": reason,
            **{k: str(v) for k, v in extra.items()}}
    return client.post("/api/v1/xp/earn", headers=headers, json=body)


def _as(school, user):
    return school["headers"][user.id]


# --- Levels, streaks, XP -------------------------------------------------------------------------------------------

def test_staff_award_xp_and_the_level_follows_as_the_profile_page_shows(client, db, school):
    andi = school["students"][0]
    earned = _earn(client, _as(school, school["staff"]), andi, 300, class_id=school["class"].id)
    assert earned.status_code == 201 and (_data(earned)["total_xp"], _data(earned)["level"]) == (300, 3)
    level = _data(client.get(f"/api/v1/users/{andi.id}/level", headers=_as(school, andi)))
    assert level == {"user_id": str(andi.id), "total_xp": 300, "level": 3, "level_floor_xp": 276,
                     "next_level_xp": 479, "xp_to_next": 179, "percent": 11}
    page = signed_in_client(client.application, andi).get(f"/users/{andi.id}").get_data(as_text=True)
    assert int(re.search(r'id="level-heading">Level (\d+)<', page).group(1)) == level["level"]
    assert int(re.search(r'class="xp-total"><strong>(\d+) XP<', page).group(1)) == level["total_xp"]
    assert f"{level['xp_to_next']} XP to level {level['level'] + 1}" in page


def test_who_sees_a_level_and_who_sees_the_xp_history(client, db, school, api_as):
    andi, dewi = school["students"][:2]
    _earn(client, _as(school, school["staff"]), andi, 40)
    for headers in (_as(school, andi), _as(school, dewi), _as(school, school["instructor"]),
                    _as(school, school["staff"])):
        assert _data(client.get(f"/api/v1/users/{andi.id}/level", headers=headers))["total_xp"] == 40
        assert _data(client.get(f"/api/v1/users/{andi.id}/streak", headers=headers))["days"] == 0
    history = f"/api/v1/users/{andi.id}/xp"
    assert [r["amount"] for r in _data(client.get(history, headers=_as(school, school["instructor"])))] == [40]
    assert _data(client.get(history, headers=_as(school, andi)))[0]["note"] == "Membantu teman"
    assert _refusal(client.get(history, headers=_as(school, dewi)), 403)["code"] == "FORBIDDEN"  # a classmate
    in_indonesian = client.get(history, headers={**_as(school, dewi), "Accept-Language": "id"})
    assert _refusal(in_indonesian, 403)["message"].startswith("Hanya siswa itu sendiri")
    for stranger in (api_as("student")[1], api_as("instructor")[1]):
        _refusal(client.get(f"/api/v1/users/{andi.id}/level", headers=stranger), 404)
        _refusal(client.get(history, headers=stranger), 404)
    _refusal(client.get(f"/api/v1/users/{school['staff'].id}/level", headers=_as(school, school["staff"])), 404)


def test_an_award_with_a_reference_is_written_once(client, db, school):
    andi, staff = school["students"][0], _as(school, school["staff"])
    reference = uuid.uuid4()
    first = _data(_earn(client, staff, andi, 100, reference=reference))
    again = _data(_earn(client, staff, andi, 100, reference=reference))
    assert first["id"] == again["id"] and again["total_xp"] == 100
    assert _data(_earn(client, staff, andi, 100))["total_xp"] == 200  # no reference: a new award


def test_ten_parallel_awards_with_one_reference_write_one_row(app, db, school):
    andi, staff = school["students"][0], _as(school, school["staff"])
    reference = uuid.uuid4()
    responses, errors = requests_at_once(app, lambda client, n: _earn(client, staff, andi, 25, reference=reference))
    assert errors == [] and [r.status_code for r in responses] == [201] * 10
    assert len({r.get_json()["data"]["id"] for r in responses}) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.sum(XPTransaction.amount)).where(XPTransaction.user_id == andi.id)) == 25


def test_award_refusals_change_nothing(client, db, school, api_as):
    andi, staff = school["students"][0], _as(school, school["staff"])
    _refusal(_earn(client, staff, andi, -10), 422)  # below 0 XP
    _refusal(_earn(client, staff, andi, 0), 422)
    _refusal(_earn(client, staff, andi, 1001), 422)
    _refusal(_earn(client, staff, andi, 10, reason=""), 422)
    _refusal(_earn(client, staff, andi, 10, class_id=make_class().id), 422)  # not the student's class
    _refusal(_earn(client, staff, school["instructor"], 10), 404)  # not a student
    _refusal(_earn(client, _as(school, school["instructor"]), andi, 10), 403)
    _refusal(_earn(client, _as(school, andi), andi, 10), 403)
    assert db.session.scalar(select(func.count()).select_from(XPTransaction)) == 0


def test_the_xp_history_pages_with_a_cursor(client, db, school):
    andi, staff = school["students"][0], _as(school, school["staff"])
    for amount in (10, 20, 30):
        _earn(client, staff, andi, amount)
    url = f"/api/v1/users/{andi.id}/xp"
    first = client.get(f"{url}?limit=2", headers=_as(school, andi)).get_json()
    assert [r["amount"] for r in first["data"]] == [30, 20] and first["meta"]["has_more"] is True
    assert first["data"][0]["reason_name"] == "Bonus from staff"
    rest = client.get(f"{url}?limit=2&cursor={first['meta']['next_cursor']}", headers=_as(school, andi)).get_json()
    assert [r["amount"] for r in rest["data"]] == [10] and rest["meta"]["has_more"] is False
    _refusal(client.get(f"{url}?cursor=WzEsMl0", headers=_as(school, andi)), 422)


# --- Leaderboards --------------------------------------------------------------------------------------------------

def _board(client, school, user, period="all"):
    return _data(client.get(f"/api/v1/leaderboard?class_id={school['class'].id}&period={period}",
                            headers=_as(school, user)))


def _configure(client, school, mode, neighbours=2, user=None):
    return client.put(f"/api/v1/classes/{school['class'].id}/leaderboard", headers=_as(school, user or
                      school["instructor"]), json={"mode": mode, "neighbours": neighbours})


@pytest.fixture
def scored(client, school):
    andi, dewi, eko = school["students"]
    for student, amount in ((andi, 30), (dewi, 50), (eko, 10)):
        _earn(client, _as(school, school["staff"]), student, amount, class_id=school["class"].id)
    return school


def test_a_board_that_is_off_shows_students_nothing_and_teachers_everything(client, db, scored):
    andi = scored["students"][0]
    board = _board(client, scored, andi)
    assert board["visible"] is False and board["rows"] == [] and board["mode"] == "off"
    teacher = _board(client, scored, scored["instructor"])
    assert [(r["rank"], r["label"], r["xp"]) for r in teacher["rows"]] == [(1, "Dewi", 50), (2, "Andi", 30),
                                                                           (3, "Eko", 10)]
    assert teacher["names"] is True and teacher["can_configure"] is True


def test_an_anonymous_board_names_only_me_and_hides_who_opted_out(client, db, scored):
    andi, dewi, eko = scored["students"]
    assert _data(_configure(client, scored, "anonymous"))["mode"] == "anonymous"
    board = _board(client, scored, andi)
    assert [(r["label"], r["xp"], r["is_me"]) for r in board["rows"]] == [
        ("Student 1", 50, False), ("Andi", 30, True), ("Student 3", 10, False)]
    assert [r["user_id"] for r in board["rows"]] == [None, str(andi.id), None]
    prefs = client.put("/api/v1/me/leaderboard-preferences", headers=_as(scored, dewi), json={"opt_out": True})
    assert _data(prefs) == {"opt_out": True, "time_zone": None}
    assert [r["xp"] for r in _board(client, scored, andi)["rows"]] == [30, 10]
    staff_rows = _board(client, scored, scored["staff"])["rows"]
    assert [(r["label"], r["opted_out"]) for r in staff_rows][0] == ("Dewi", True)


def test_a_neighbours_board_shows_only_the_places_around_me(client, db, scored):
    eko = scored["students"][2]
    _configure(client, scored, "neighbours", neighbours=1)
    assert [(r["rank"], r["is_me"]) for r in _board(client, scored, eko)["rows"]] == [(2, False), (3, True)]


def test_board_refusals(client, db, scored, api_as):
    andi = scored["students"][0]
    _refusal(client.get(f"/api/v1/leaderboard?class_id={scored['class'].id}", headers=api_as("student")[1]), 404)
    _refusal(client.get("/api/v1/leaderboard", headers=_as(scored, andi)), 422)
    _refusal(client.get(f"/api/v1/leaderboard?class_id={scored['class'].id}&period=year",
                        headers=_as(scored, andi)), 422)
    _refusal(_configure(client, scored, "full", user=andi), 403)
    _refusal(_configure(client, scored, "loud"), 422)
    other_teacher = api_as("instructor")[1]
    _refusal(client.put(f"/api/v1/classes/{scored['class'].id}/leaderboard", headers=other_teacher,
                        json={"mode": "full"}), 404)
    _refusal(client.put("/api/v1/me/leaderboard-preferences", headers=_as(scored, andi),
                        json={"opt_out": False, "time_zone": "Mars/Base"}), 422)
    assert _board(client, scored, andi)["mode"] == "off"


# --- Badges --------------------------------------------------------------------------------------------------------

@pytest.fixture
def catalog(db):
    from babyowl.services import badges

    badges.seed_catalog()


def test_the_badge_catalogue_with_rarity_pages_with_a_cursor(client, db, school, catalog):
    headers = _as(school, school["students"][0])
    everything = _data(client.get("/api/v1/badges?limit=100", headers=headers))
    assert len(everything) == 13 and {b["rarity"] for b in everything} == {"common", "rare", "epic", "legendary"}
    assert [b["xp"] for b in everything] == sorted(b["xp"] for b in everything)
    first = client.get("/api/v1/badges?limit=5", headers=headers).get_json()
    second = client.get(f"/api/v1/badges?limit=5&cursor={first['meta']['next_cursor']}", headers=headers).get_json()
    assert [b["slug"] for b in first["data"] + second["data"]] == [b["slug"] for b in everything[:10]]
    assert _data(client.get("/api/v1/badges?earned=true", headers=headers)) == []
    _refusal(client.get("/api/v1/badges?cursor=WyJ4Il0", headers=headers), 422)


def test_unlock_runs_the_achievements_check_and_awards_once(client, db, school, catalog, monkeypatch):
    import babyowl.jobs.gamification

    monkeypatch.setattr(babyowl.jobs.gamification, "queue_achievements", lambda user_id: None)  # the job is away
    andi, staff = school["students"][0], _as(school, school["staff"])
    _earn(client, staff, andi, 800)  # level 5: the "Level 5" badge's criteria are met, not yet checked
    assert _data(client.get("/api/v1/badges?earned=true", headers=_as(school, andi))) == []
    unlocked = _data(client.post("/api/v1/badges/unlock", headers=staff, json={"user_id": str(andi.id)}))
    assert [b["slug"] for b in unlocked["unlocked"]] == ["level-lima"] and unlocked["unlocked"][0]["earned"]
    assert _data(client.post("/api/v1/badges/unlock", headers=_as(school, andi), json={}))["unlocked"] == []
    mine = _data(client.get("/api/v1/badges?earned=true", headers=_as(school, andi)))
    assert [(b["slug"], b["holders"]) for b in mine] == [("level-lima", 1)]
    assert db.session.scalar(select(func.count()).select_from(UserBadge)) == 1
    dewi = school["students"][1]
    _refusal(client.post("/api/v1/badges/unlock", headers=_as(school, dewi), json={"user_id": str(andi.id)}), 403)
    _refusal(client.post("/api/v1/badges/unlock", headers=staff, json={}), 422)
    _refusal(client.post("/api/v1/badges/unlock", headers=staff, json={"user_id": str(uuid.uuid4())}), 404)
    _refusal(client.post("/api/v1/badges/unlock", headers=_as(school, school["instructor"]),
                         json={"user_id": str(andi.id)}), 403)


def test_the_gamification_lists_run_the_same_statements_whatever_the_rows(client, db, school, catalog,
                                                                          list_statements):
    andi, staff = school["students"][0], _as(school, school["staff"])
    lists = [(f"/api/v1/users/{andi.id}/xp?limit=100", _as(school, andi)), ("/api/v1/badges?limit=100", staff),
             (f"/api/v1/leaderboard?class_id={school['class'].id}", _as(school, school["instructor"]))]
    _earn(client, staff, andi, 5, class_id=school["class"].id)
    few = list_statements(lists)
    for n in range(6):
        _earn(client, staff, andi, 5 + n, class_id=school["class"].id)
        make_enrollment(school["class"])
    assert list_statements(lists) == few
