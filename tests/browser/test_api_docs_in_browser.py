"""The API's docs page renders its operations in a browser, from files served by the app (CSP as everywhere)."""
from __future__ import annotations


def test_the_docs_page_lists_the_operations_with_no_csp_violation(live_server, open_page):
    page = open_page()
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server}/api/v1/docs")
    page.wait_for_selector("#operations-tag-attendance", timeout=20_000)
    tags = page.locator(".opblock-tag").count()
    assert tags >= 18  # every area of the school, each a closed tag
    page.click("#operations-tag-attendance")
    page.wait_for_selector("[data-path='/api/v1/classes/{class_id}/attendance']")
    page.click("#operations-tag-account")
    page.wait_for_selector("[data-path='/api/v1/me/devices']")
    assert page.locator(".opblock-tag").count() == tags
    assert all(url.startswith(live_server) for url in requested), [u for u in requested if live_server not in u]
    assert not [p for p in problems if "Content Security Policy" in p], problems
