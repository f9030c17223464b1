"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against a live
server: a labeler logs in, writes a demonstration, rates and ranks with a tie; the admin
exports the ranking. Skipped when Chromium is not installed."""

import json
import os

import pytest

from sqlalchemy import select

from instructrl.labelapp import service
from instructrl.labelapp.db import RatingRow, Response
from instructrl.labelapp.wire import batch_to_json

from .conftest import PASSWORD, LiveServer, add_user, demo_batch, rank_batch

CHROMIUM = os.environ.get("INSTRUCTRL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def server(cfg, admin_token):
    with LiveServer(cfg) as srv:
        yield srv


def _login(page, url, username):
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_labeler_demonstrates_rates_ranks_with_tie_and_admin_exports(browser, server, st):
    with st.tx() as s:
        service.create_batch(s, st.cfg, batch_to_json(demo_batch("d1", n=1)), "test")
        payload = batch_to_json(rank_batch("r1", n=1, k=3))
        payload["items"][0]["responses"][0] = "<script>window.pwned = 1</script> plain text"
        service.create_batch(s, st.cfg, payload, "test")
    add_user(st, "ann")
    ctx = browser.new_context()
    page = ctx.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    _login(page, server.url, "ann")
    assert "Your queue" in page.content()

    # demonstration: typed text survives leaving the page (autosave beacon), then submit
    page.click("text=Write demonstrations >> xpath=.. >> button")
    page.wait_for_selector("textarea[name=text]")
    assert page.is_visible("aside.guidelines")
    task_url = page.url
    page.fill("textarea[name=text]", "Here is my careful demonstration.")
    page.goto(f"{server.url}/")
    page.goto(task_url)
    assert page.input_value("textarea[name=text]") == "Here is my careful demonstration."
    page.click("form#task-form button:text('Submit')")
    page.wait_for_url(f"{server.url}/?msg=nowork")

    # rate and rank: Likert by digit keys on the first output, radios elsewhere, a tie for first
    page.click("text=Rate and rank outputs >> xpath=.. >> button")
    page.wait_for_selector("fieldset.output")
    assert page.evaluate("window.pwned") is None  # model output is inert text
    shown = [page.inner_text(f"#out-{j} pre") for j in range(3)]
    assert "<script>window.pwned = 1</script> plain text" in shown  # displayed literally
    page.keyboard.press("6")  # sets the first unrated output
    for j, v in ((1, 6), (2, 2)):
        page.check(f"input[name=likert_{j}][value='{v}']")
    page.check("input[name=flag_2_hallucination]")
    for j, r in enumerate(("1", "1", "3")):
        page.select_option(f"select[name=rank_{j}]", r)
    page.click("form#task-form button:text('Submit')")
    page.wait_for_url(f"{server.url}/?msg=nowork")
    assert not problems, problems  # no CSP violations or script errors
    ctx.close()

    # admin downloads the rankings export: the tie is kept
    ctx = browser.new_context(accept_downloads=True)
    page = ctx.new_page()
    _login(page, server.url, "root")
    page.goto(f"{server.url}/admin/tokens")
    with page.expect_download() as dl:
        page.click("form[action='/admin/export/rankings.jsonl'] button")
    rows = [json.loads(line) for line in open(dl.value.path()) if line.strip()]
    ctx.close()
    assert len(rows) == 1
    assert sorted(rows[0]["ranks"]) == [1, 1, 2] and rows[0]["labeler_id"].startswith("lab-")
    with st.tx() as s:
        ratings = {s.get(Response, r.response_id).text: r for r in s.scalars(select(RatingRow))}
    assert ratings[shown[0]].likert == 6  # set with the "6" key
    assert ratings[shown[2]].likert == 2 and ratings[shown[2]].hallucination is True
