"""An operator's morning in the console, in Chromium: sign in, create, run, watch, pause, read.

Every check is what a person sees on the page; the API is used only to set
the scene and to read the truth the page is compared with.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from playwright.sync_api import BrowserContext, Dialog, Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Stack
from tests.helpers import Api, unique

pytestmark = pytest.mark.one_backend  # the browser sees HTML, not SQL


def keep_marker(page: Page) -> None:
    """Mark the loaded document; ``assert_not_reloaded`` fails if it was reloaded since."""
    page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"


def test_an_admin_creates_runs_watches_and_pauses_a_task(page: Page, admin: Api) -> None:
    name = unique("console-report")
    sign_in(page, "admin")
    screenshot(page, "01-tasks")
    page.click("text=New task")
    page.fill("input[name=name]", name)
    page.fill("textarea[name=command]", "echo console says hi; sleep 1; echo done")
    page.fill("input[name=schedule]", "61 * * * *")
    # The preview answers while typing, with the API's message.
    expect(page.locator("#preview-error")).to_contain_text("Invalid schedule")
    page.click("button:has-text('Create task')")
    expect(page.locator("#form-error")).to_contain_text("Invalid schedule")
    expect(page.locator("input[name=schedule]")).to_have_class("mono invalid")
    screenshot(page, "02-new-task-invalid-cron")
    page.fill("input[name=schedule]", "0 9 * * 1-5")
    page.fill("input[name=timezone]", "Europe/Paris")
    expect(page.locator("#preview-fires li")).to_have_count(5)
    page.click("button:has-text('Create task')")
    expect(page.locator("h1.task-title")).to_have_text(name)
    expect(page.get_by_text("Task created.")).to_be_visible()
    screenshot(page, "03-task")
    task_id = int(page.url.rstrip("/").rsplit("/", 2)[-1].split("?")[0])

    # Its row turns Completed without a reload.
    page.goto(f"/ui/tasks?name={name}")
    keep_marker(page)
    run_id = admin.trigger(task_id)
    row = page.locator(f"tr[data-task-id='{task_id}'] td.last-run .badge")
    expect(row).to_have_text("Completed", timeout=30_000)
    assert_not_reloaded(page)
    admin.wait_for_run(run_id)

    # Run now, and the run page turns Completed within 2 s of the run completing.
    page.goto(f"/ui/tasks/{task_id}")
    page.click("#run-now")
    page.wait_for_url("**/ui/runs/*")
    keep_marker(page)
    badge = page.locator("#run-live h2 .badge")
    expect(badge).not_to_have_text("Completed")  # it is still open: the page is live
    expect(badge).to_have_text("Completed", timeout=30_000)
    seen = time.time()
    assert_not_reloaded(page)
    run = admin.run(int(page.url.rstrip("/").rsplit("/", 1)[-1]))
    completed = datetime.fromisoformat(run["completed_at"].replace("Z", "+00:00")).timestamp()
    lag = seen - completed
    print(f"run page showed Completed {lag:.2f} s after the run completed")
    assert lag <= 2.0, lag
    expect(page.locator("#run-result")).to_have_text("console says hi\ndone\n")
    expect(page.locator("#cancel-run")).to_have_count(0)
    expect(page.locator("#temporal-link")).to_have_attribute("href", run["temporal_ui_url"])
    screenshot(page, "04-run")

    # Pause and resume.
    page.goto(f"/ui/tasks/{task_id}")
    page.click("#pause")
    expect(page.locator(".page-head .badge").first).to_have_text("Inactive")
    assert admin.get(f"/api/tasks/{task_id}").json()["data"]["status"] == "Inactive"
    page.click("#resume")
    expect(page.locator(".page-head .badge").first).to_have_text("Active")
    screenshot(page, "05-task-with-runs")


def test_the_other_pages_of_a_task(page: Page, admin: Api) -> None:
    upstream = admin.create_task(name=unique("upstream"), schedule="0 * * * *")
    downstream = admin.create_task(name=unique("downstream"), dependencies=[upstream["id"]])
    try:
        sign_in(page, "admin")
        page.goto(f"/ui/tasks/{upstream['id']}/edit")
        page.fill("input[name=schedule]", "30 2 * * *")
        page.fill("input[name=timezone]", "America/New_York")
        expect(page.locator("#preview-fires li")).to_have_count(5)
        screenshot(page, "06-edit-task")
        page.goto(f"/ui/tasks/{upstream['id']}/backfill")
        page.fill("input[name=start]", "2026-01-01T00:00:00")
        page.fill("input[name=end]", "2026-01-01T05:00:00")
        page.click("text=Count fires")
        expect(page.locator("#backfill-count")).to_contain_text("6 fire times")
        screenshot(page, "07-backfill")
        page.goto(f"/ui/tasks/{upstream['id']}/delete")
        expect(page.get_by_text("cannot be deleted")).to_be_visible()
        screenshot(page, "08-delete-blocked")
    finally:
        # The stack is the session's: an hourly fire would move the system-wide
        # counts other modules read.
        for task in (downstream, upstream):
            admin.delete(f"/api/tasks/{task['id']}")


def test_a_viewer_sees_no_write_buttons_and_forged_posts_are_refused(
    page: Page, context: BrowserContext, admin: Api, stack: Stack
) -> None:
    task = admin.create_task(name=unique("viewed"))
    sign_in(page, "viewer")
    expect(page.get_by_text("New task")).to_have_count(0)
    page.goto(f"/ui/tasks/{task['id']}")
    for control in ("Run now", "Pause", "Backfill", "Edit", "Delete"):
        expect(page.get_by_role("button", name=control)).to_have_count(0)
        expect(page.get_by_role("link", name=control)).to_have_count(0)
    screenshot(page, "09-task-as-viewer")
    # The server refuses a Viewer anyway, and anyone without the form's CSRF token.
    as_viewer = context.request.post(f"/ui/tasks/{task['id']}/run", form={"csrf_token": "x"})
    assert as_viewer.status == 403
    admin_context = page.context.browser.new_context(base_url=stack.base_url)  # type: ignore[union-attr]
    try:
        admin_page = admin_context.new_page()
        sign_in(admin_page, "admin")
        forged = admin_context.request.post(f"/ui/tasks/{task['id']}/run", form={})
        assert forged.status == 403
        assert "security token" in forged.text()
    finally:
        admin_context.close()
    assert admin.get(f"/api/tasks/{task['id']}/runs").json()["data"]["total"] == 0


def test_names_and_output_are_shown_as_text(page: Page, admin: Api) -> None:
    name = f"<img src=x onerror=alert(1)> {unique('xss')}"
    task = admin.create_task(name=name, parameters={"command": "echo '<script>alert(2)</script>'"})
    run_id = admin.trigger(task["id"])
    assert admin.wait_for_run(run_id)["status"] == "Completed"
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    sign_in(page, "viewer")
    page.goto("/ui/tasks?name=onerror")
    expect(page.get_by_role("link", name=name)).to_be_visible()
    page.goto(f"/ui/tasks/{task['id']}")
    expect(page.locator("h1.task-title")).to_have_text(name)
    page.goto(f"/ui/runs/{run_id}")
    expect(page.locator("#run-result")).to_have_text("<script>alert(2)</script>\n")
    screenshot(page, "10-escaped-output")
    assert page.locator("img[src=x]").count() == 0
    assert dialogs == []


def test_filters_and_pages_survive_a_reload(page: Page, admin: Api) -> None:
    prefix = unique("paged")
    ids = [admin.create_task(name=f"{prefix}-{n}")["id"] for n in range(3)]
    sign_in(page, "viewer")
    page.fill("input[name=name]", prefix)
    page.select_option("select[name=task_type]", "shell")
    page.click("text=Apply")
    expect(page.locator("tr[data-task-id]")).to_have_count(3)
    assert f"name={prefix}" in page.url
    # The page-size menu offers 20, 50 and 100; a bookmarked URL may say any size.
    page.goto(f"/ui/tasks?name={prefix}&task_type=shell&page_size=2")
    page.click("a[rel=next]")
    expect(page.locator("tr[data-task-id]")).to_have_count(1)
    page.reload()
    expect(page.locator("tr[data-task-id]")).to_have_count(1)
    expect(page.locator(f"tr[data-task-id='{ids[2]}']")).to_be_visible()
    expect(page.locator("input[name=name]")).to_have_value(prefix)
    expect(page.locator("select[name=task_type]")).to_have_value("shell")
    assert "page=2" in page.url
    screenshot(page, "11-tasks-filtered-page-2")


def test_the_sign_in_page(page: Page) -> None:
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password")
    screenshot(page, "00-sign-in")
