"""The console in a real browser: Debian's headless Chromium driven by Playwright (nothing
downloaded at run time). Log in with a token, read the overview (five platforms), open a school,
resolve drift findings, approve a held run, download a report; open a school's migration plan,
approve it and download it. Screenshots go to
``out/console/`` (gitignored) for a person to look at."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator

import openpyxl
import pytest

from core.platform import platforms as installed_platforms
from tests.support import REPO_ROOT
from tests.support.console_migration import world_plans
from tests.support.console_world import ConsoleWorld, console_world

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUT = REPO_ROOT / "out" / "console"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None,
        reason="Debian's chromium is not installed (make installs it)",
    ),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    with console_world(tmp_path_factory.mktemp("browser")) as w:
        yield w


def test_walk_login_overview_school_drift_approve_download(world: ConsoleWorld) -> None:
    from playwright.sync_api import expect, sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                base_url=world.base_url,
                accept_downloads=True,
                viewport={"width": 1360, "height": 900},
                locale="ru-RU",
            )
            page = context.new_page()

            # Log in with a token; a wrong one is refused.
            page.goto("/")
            expect(page).to_have_url(f"{world.base_url}/login")
            page.fill("input[name=token]", "js_not-a-token")
            page.click("button[type=submit]")
            expect(page.get_by_role("alert")).to_contain_text("Ключ не подошёл")
            page.fill("input[name=token]", world.tokens["admin"])
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_contain_text("Обзор")
            cookie = next(c for c in context.cookies() if c["name"] == "js_session")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

            # The overview: every school, five platforms, the held one and the drifting one.
            rows = page.locator("#schools tbody tr")
            expect(rows).to_have_count(5)
            platforms = page.locator("#schools tbody tr td:nth-child(2)").all_inner_texts()
            # Each platform by its own title from the registry (as documents name it).
            assert sorted(platforms) == sorted(p.title for p in installed_platforms().values())
            held_row = page.locator(f"tr[data-school='{world.held_school}']")
            expect(held_row).to_contain_text("ждёт подтверждения")
            drift_row = page.locator(f"tr[data-school='{world.drift_school}']")
            expect(drift_row.locator("td").nth(5)).to_have_text("3")
            page.screenshot(path=str(OUT / "overview.png"), full_page=True)
            # sorted by drift, most first
            page.click("#schools th a:has-text('Расхождения')")
            page.click("#schools th a:has-text('Расхождения')")
            first = page.locator("#schools tbody tr").first
            expect(first).to_have_attribute("data-school", world.drift_school)

            # A school: its drift in words; resolve two findings.
            drift_row = page.locator(f"tr[data-school='{world.drift_school}']")
            drift_row.locator("a").first.click()
            findings = page.locator("#drift tbody tr.finding")
            expect(findings).to_have_count(3)
            page.screenshot(path=str(OUT / "school-drift.png"), full_page=True)
            findings.first.get_by_role("button", name="Принять платформу").click()
            expect(page.locator("#drift tbody tr.finding")).to_have_count(2)
            second = page.locator("#drift tbody tr.finding").first
            second.locator("input[name=comment]").fill("ошибка учителя, исправлено на бумаге")
            second.get_by_role("button", name="Оставить как есть").click()
            expect(page.locator("#drift tbody tr.finding")).to_have_count(1)
            page.select_option("select[name=status]", "all")
            page.click("form.filters button[type=submit] >> nth=0")
            expect(page.locator("#drift")).to_contain_text("ошибка учителя, исправлено на бумаге")

            # Download a report: the findings as XLSX.
            with page.expect_download() as dl:
                page.click("a:has-text('Расхождения (XLSX)')")
            saved = OUT / "drift.xlsx"
            dl.value.save_as(saved)
            wb = openpyxl.load_workbook(io.BytesIO(saved.read_bytes()))
            cells = [str(c) for row in wb.active.iter_rows(values_only=True) for c in row if c]
            assert "Расхождения журнала школы и платформы" in cells
            assert "Ученик" in cells and len(cells) > 20

            # The held school: approve its held run.
            page.goto(f"/schools/{world.held_school}")
            box = page.locator(".held-run")
            expect(box).to_contain_text("отметка: 3 изменений — больше допустимых 2")
            page.screenshot(path=str(OUT / "school-held.png"), full_page=True)
            box.get_by_role("button", name="Подтвердить").click()
            expect(page.locator("h1")).to_contain_text("Синхронизация от")
            expect(page.locator(".state").first).to_have_text("выполнен")
            expect(page.locator(".timeline")).to_contain_text("отправка")
            page.screenshot(path=str(OUT / "run.png"), full_page=True)

            # The audit log names who did it.
            page.goto("/audit")
            log = page.locator("table").inner_text()
            assert "run.approve" in log and "drift.accept_platform" in log
            assert "Администратор УО" in log
            page.screenshot(path=str(OUT / "audit.png"), full_page=True)
            context.close()
        finally:
            browser.close()
    assert world.store.get_run(world.held_run).state.value == "done"


def test_walk_open_a_migration_and_approve_it(world: ConsoleWorld) -> None:
    from playwright.sync_api import expect, sync_playwright

    own = (world.drift_school, world.plan.school(world.drift_school).platform)
    other = (world.held_school, world.plan.school(world.held_school).platform)
    plans = world_plans(world.store, own, other)
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                base_url=world.base_url,
                accept_downloads=True,
                viewport={"width": 1360, "height": 900},
                locale="ru-RU",
            )
            page = context.new_page()
            page.goto("/login")
            page.fill("input[name=token]", world.tokens["school"])
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_contain_text("Обзор")

            # From the school's page to its migrations: three plans, the waiting one flagged.
            page.locator(f"tr[data-school='{world.drift_school}'] a").first.click()
            page.click("a:has-text('переходы на другую платформу')")
            rows = page.locator("#migrations tbody tr")
            expect(rows).to_have_count(3)
            expect(page.locator("#migrations")).to_contain_text("ждёт утверждения")
            page.screenshot(path=str(OUT / "migrations.png"), full_page=True)

            # The plan waiting for review cannot be approved; the ready one can.
            page.goto(f"/migrations/{plans['pending']}")
            expect(page.locator(".approve-plan")).to_contain_text("Ждут решения оператора: 2")
            expect(page.get_by_role("button", name="Утвердить план")).to_have_count(0)
            page.goto("/migrations")
            page.locator(f"a[href='/migrations/{plans['ready']}']").click()
            expect(page.locator("h1")).to_contain_text("План перехода")
            table = page.locator("#entities")
            expect(table).to_contain_text("Отметки")
            expect(table).to_contain_text("не хранится")  # explained: what the target lacks
            page.screenshot(path=str(OUT / "migration-plan.png"), full_page=True)
            page.get_by_role("button", name="Утвердить план").click()
            expect(page.locator("#plan-state")).to_have_text("утверждён")
            expect(page.locator("main")).to_contain_text("Утверждён:")
            expect(page.locator("main")).to_contain_text("Завуч")
            page.screenshot(path=str(OUT / "migration-approved.png"), full_page=True)

            # Its summary, as the command writes it.
            with page.expect_download() as dl:
                page.click("a:has-text('План перехода (XLSX)')")
            saved = OUT / "migration-plan.xlsx"
            dl.value.save_as(saved)
            wb = openpyxl.load_workbook(io.BytesIO(saved.read_bytes()))
            cells = [
                str(c)
                for ws in wb.worksheets
                for r in ws.iter_rows(values_only=True)
                for c in r
                if c
            ]
            assert any("Отметки" in c for c in cells), cells[:20]

            # The verified one: its certificate to print.
            page.goto(f"/migrations/{plans['cert']}")
            expect(page.locator("#verdict")).to_contain_text("перенос не завершён")
            with page.expect_download() as dl:
                page.click("a:has-text('Акт проверки (PDF)')")
            pdf = OUT / "migration-certificate.pdf"
            dl.value.save_as(pdf)
            assert pdf.read_bytes().startswith(b"%PDF")
            context.close()
        finally:
            browser.close()
    row = world.store.plan(plans["ready"])
    assert (row.state, row.approved_by) == ("approved", "Завуч (console)")
