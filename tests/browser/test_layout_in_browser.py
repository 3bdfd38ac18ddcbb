"""The base layout in a real browser: phone and tablet, htmx swaps, language switch."""
from __future__ import annotations

import pytest
from flask import render_template_string

from tests.browser.conftest import PHONE, TABLET, sign_in
from tests.factories import PASSWORD, make_class, make_enrollment, make_user


# WCAG's contrast ratio of each avatar's initials against its own background, as the browser draws them.
CONTRAST_OF_AVATARS = """() => {
  const luminance = (css) => {
    const [r, g, b] = css.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => v / 255)
      .map((c) => c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  return [...document.querySelectorAll("span.avatar")].map((el) => {
    const style = getComputedStyle(el);
    const [light, dark] = [luminance(style.color), luminance(style.backgroundColor)].sort((a, b) => b - a);
    return (light + 0.05) / (dark + 0.05);
  });
}"""


def contrast_of_avatars(page) -> list[float]:
    return page.evaluate(CONTRAST_OF_AVATARS)


@pytest.fixture
def school(db):
    staff = make_user("staff", email="staf@example.com", full_name="Sari Staf")
    for index in range(3):
        school_class = make_class(name=f"Python Dasar — Grup {index + 1}")
        make_enrollment(school_class)
    return staff


@pytest.mark.parametrize("viewport", [PHONE, TABLET], ids=["phone", "tablet"])
def test_dashboard_fits_the_screen_and_targets_are_touch_sized(live_server, open_page, school, viewport, tmp_path):
    page = open_page(viewport)
    sign_in(page, live_server, "staf@example.com", PASSWORD)
    assert page.locator("h1").inner_text() == "Hello, Sari Staf"
    assert page.evaluate("typeof window.htmx") == "object"
    # Nothing but the class table may scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    if viewport == PHONE:
        page.get_by_text("Menu").click()
    for selector in (".site-nav a", ".language-switch button", "header form button"):
        for box in (el.bounding_box() for el in page.locator(selector).all()):
            assert box["height"] >= 44, selector
    page.screenshot(path=str(tmp_path / f"dashboard-{viewport['width']}.png"), full_page=True)


def test_a_wrong_password_is_swapped_into_the_form_by_htmx(live_server, open_page, school):
    page = open_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", "staf@example.com")
    page.fill("input[name=password]", "wrong")
    def is_login_post(response):
        return response.url.startswith(f"{live_server}/login") and response.request.method == "POST"

    with page.expect_response(is_login_post) as answer:
        page.click("form#login-form button[type=submit]")
    assert answer.value.status == 422
    assert answer.value.request.headers.get("hx-request") == "true"
    page.get_by_text("The email or password is not correct.").wait_for()
    assert page.url == f"{live_server}/login"
    assert page.locator("html").count() == 1 and page.locator("header.site-header").count() == 1
    # The swapped form still carries a CSRF token, so the next try goes through.
    page.fill("input[name=password]", PASSWORD)
    page.click("form#login-form button[type=submit]")
    page.wait_for_url(f"{live_server}/dashboard")


def test_other_errors_land_in_the_error_region(browser_app, live_server, open_page, db):
    @browser_app.route("/__probe")
    def probe():
        return render_template_string(
            '{% extends "base.html" %}{% block content %}'
            '<button id="go" hx-get="/no-such-page" hx-target="#out">Go</button><div id="out">kept</div>'
            '{% endblock %}')

    page = open_page()
    page.goto(f"{live_server}/__probe")
    page.click("#go")
    page.locator("#htmx-error [data-status='404']").wait_for()
    assert "Page not found" in page.locator("#htmx-error").inner_text()
    assert page.locator("#out").inner_text() == "kept"


def test_the_language_switch_turns_the_page_indonesian_and_stays(live_server, open_page, school):
    page = open_page(locale="en-US")
    page.goto(f"{live_server}/login")
    assert page.locator("h1").inner_text() == "Sign in"
    page.click(".language-switch button[value=id]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Masuk"
    page.goto(f"{live_server}/")
    assert "Belajar koding" in page.locator("main").inner_text()


def test_the_phone_header_takes_at_most_an_eighth_of_the_screen_and_its_menu_opens(live_server, open_page, school):
    page = open_page(PHONE)
    sign_in(page, live_server, "staf@example.com", PASSWORD)
    header = page.locator("header.site-header").bounding_box()
    assert header["height"] <= 0.12 * PHONE["height"], header
    # The menu is one tap away, and every entry in it is touch-sized.
    assert page.locator(".site-nav a").first.is_hidden()
    page.get_by_text("Menu").click()
    links = page.locator(".site-nav a").all()
    assert links and all(link.is_visible() for link in links)
    for selector in (".site-nav a", ".language-switch button", "header form button"):
        for box in (el.bounding_box() for el in page.locator(selector).all()):
            assert box["height"] >= 44, selector
    page.locator(".site-nav a", has_text="Classes").click()
    page.wait_for_url(f"{live_server}/classes")


def test_the_tablet_header_shows_the_menu_without_a_tap(live_server, open_page, school):
    page = open_page(TABLET)
    sign_in(page, live_server, "staf@example.com", PASSWORD)
    assert page.locator(".site-nav a").first.is_visible()
    assert page.get_by_text("Menu").is_hidden()


@pytest.mark.parametrize("viewport", [PHONE, TABLET], ids=["phone", "tablet"])
def test_avatar_initials_are_drawn_with_aa_contrast(live_server, open_page, db, viewport):
    teacher = make_user("instructor", email="guru@example.com")
    school_class = make_class(instructor=teacher, status="active")
    for name in ("Andi Pratama", "Dewi Lestari", "Eko"):
        make_enrollment(school_class, make_user("student", full_name=name))
    page = open_page(viewport)
    sign_in(page, live_server, "guru@example.com", PASSWORD)
    page.goto(f"{live_server}/classes/{school_class.id}/attendance")
    ratios = contrast_of_avatars(page)
    assert len(ratios) == 3 and min(ratios) >= 4.5, ratios
