"""Screenshots of the two labeler pages for docs/labelapp.md.

    python scripts/labelapp_screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]

Starts the app on a temporary SQLite database with one demonstration and one
rate-and-rank task, logs a labeler in through headless Chromium (Debian's package,
driven by Playwright) and saves ``labeler-demo.png`` and ``labeler-rate-rank.png``.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

from instructrl.labelapp import service
from instructrl.labelapp.app import create_app
from instructrl.labelapp.config import LabelAppConfig
from instructrl.labelapp.migrate import upgrade

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "screenshot-password"
DEMO_PROMPT = ("Write a short, friendly email to a colleague declining a meeting invitation for Thursday. "
               "Suggest another time. Keep it under 80 words.")
RANK_PROMPT = "Explain to a 10-year-old why the sky is blue, in at most three sentences."
RESPONSES = [
    "Sunlight is made of all the colours mixed together. When it hits the air, the blue part gets bounced "
    "around much more than the other colours, so blue light reaches your eyes from every part of the sky.",
    "The sky is blue because it reflects the ocean.",
    "Light from the Sun scatters off tiny air molecules. Blue light scatters the most (this is called Rayleigh "
    "scattering), so the sky looks blue. At sunset the light travels through more air, so we see reds instead.",
    "Because blue is the best colour!!! <b>Everyone</b> knows that.",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="docs/screenshots")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    import uvicorn
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp()
    url = f"sqlite:///{tmp}/shots.db"
    upgrade(url)
    cfg = LabelAppConfig(db_url=url, dev=True, cookie_secure=False, argon2_memory_kib=1024, argon2_time_cost=1,
                         agreement_rate=0.0, gold_rate=0.0, seed=1)
    app = create_app(cfg)
    st = app.state.irl
    with st.tx() as s:
        service.create_user(s, "alex", "labeler", pw_hash=st.hasher.hash(PASSWORD))
        service.create_batch(s, cfg, {"id": "round-1/demos", "kind": "demonstrations",
                                      "prompts": [{"id": "email-1", "text": DEMO_PROMPT}]}, "script")
        service.create_batch(s, cfg, {"id": "round-1/rankings", "kind": "rankings", "items": [
            {"prompt": {"id": "sky-1", "text": RANK_PROMPT}, "responses": RESPONSES,
             "sources": ["sft", "ppo", "ppo-ptx", "sft"]}]}, "script")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "alex")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{base}/work?kind=demo")
            page.fill("textarea[name=text]", "Hi Sam,\n\nThanks for the invite! I can't make Thursday, "
                      "unfortunately. Would Friday at 10:00 work for you instead?\n\nBest,\nAlex")
            page.set_viewport_size({"width": 1280, "height": 1120})  # the whole guidelines panel
            page.screenshot(path=str(out / "labeler-demo.png"), full_page=True)
            page.goto(f"{base}/work?kind=rate_rank")
            # judge by text (the page shuffles the order): two good answers tied for first
            judgement = {RESPONSES[0]: (6, "1", None), RESPONSES[2]: (7, "1", None),
                         RESPONSES[1]: (2, "3", "hallucination"), RESPONSES[3]: (1, "4", "fails_to_follow")}
            for j in range(len(RESPONSES)):
                likert, rank, flag = judgement[page.inner_text(f"#out-{j} pre")]
                page.check(f"input[name=likert_{j}][value='{likert}']")
                page.select_option(f"select[name=rank_{j}]", rank)
                if flag:
                    page.check(f"input[name=flag_{j}_{flag}]")
            full = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport_size({"width": 1280, "height": full})  # keeps the sticky guidelines at the top
            page.screenshot(path=str(out / "labeler-rate-rank.png"), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
    print(f"wrote {out / 'labeler-demo.png'} and {out / 'labeler-rate-rank.png'}")


if __name__ == "__main__":
    main()
