"""Labeler and admin pages through the real routes: flows and the security checklist."""

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from instructrl.data.schemas import RATING_FLAGS
from instructrl.labelapp import service
from instructrl.labelapp.db import Assignment, DemoRow, Event, RankingRow, RatingRow, Response, User
from instructrl.labelapp.wire import batch_to_json

from .conftest import PASSWORD, add_user, csrf_of, demo_batch, login, make_cfg, rank_batch


def _batch(st, batch):
    with st.tx() as s:
        service.create_batch(s, st.cfg, batch_to_json(batch), "test")


def _lease_page(c: TestClient, kind: str):
    r = c.get(f"/work?kind={kind}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/a/"), r.headers.get("location")
    aid = int(r.headers["location"].rsplit("/", 1)[1])
    return aid, c.get(f"/a/{aid}")


def test_invite_signup_login_and_demonstration(app, st, admin_token):
    with st.tx() as s:
        token = service.create_invite(s, st.cfg, None, "labeler", "train", "active")
    c = TestClient(app)
    page = c.get(f"/invite/{token}")
    assert page.status_code == 200
    r = c.post(f"/invite/{token}", data={"username": "ann", "password": "short", "csrf": csrf_of(page.text)})
    assert r.status_code == 400 and "at least 10" in r.text
    page = c.get(f"/invite/{token}")
    r = c.post(f"/invite/{token}", data={"username": "ann", "password": PASSWORD, "csrf": csrf_of(page.text)},
               follow_redirects=False)
    assert r.status_code == 303
    assert c.get(f"/invite/{token}").status_code == 404  # single use
    with st.tx() as s:
        u = s.scalar(select(User).where(User.username == "ann"))
        assert u.pw_hash.startswith("$argon2id$") and PASSWORD not in u.pw_hash

    _batch(st, demo_batch("d1", n=1))
    c = login(app, "ann")
    aid, page = _lease_page(c, "demo")
    assert "Write a demonstration" in page.text and "Guidelines" in page.text and "Write about 0" in page.text
    csrf = csrf_of(page.text)
    r = c.post(f"/a/{aid}/draft", data={"csrf": csrf, "text": "Draft in progress"},
               headers={"X-Requested-With": "fetch"})
    assert r.status_code == 200 and r.json()["ok"]
    assert "Draft in progress" in c.get(f"/a/{aid}").text  # the draft comes back after a reload
    r = c.post(f"/a/{aid}/submit", data={"csrf": csrf, "text": "Final answer.", "active_s": "12"},
               follow_redirects=False)
    assert r.status_code == 303
    with st.tx() as s:
        assert s.get(DemoRow, aid).text == "Final answer."
        assert 0 < s.get(Assignment, aid).active_s < 12  # clipped to the lease wall time


def test_rate_and_rank_with_a_tie_maps_display_order_back(app, st):
    _batch(st, rank_batch("r1", n=1, k=4))
    add_user(st, "ann")
    c = login(app, "ann")
    aid, page = _lease_page(c, "rate_rank")
    for f in RATING_FLAGS:
        assert f"flag_0_{f}" in page.text
    assert "policy-" not in page.text  # the producing policy is hidden
    shown = re.findall(r'<pre class="text">(response \d to prompt 0)</pre>', page.text)
    assert len(shown) == 4
    form = {"csrf": csrf_of(page.text), "active_s": "30"}
    # rank what was shown as A and B tied first, C third, D fourth; flag hallucination on A
    for j, r in enumerate([1, 1, 3, 4]):
        form[f"likert_{j}"] = str(7 - j)
        form[f"rank_{j}"] = str(r)
    form["flag_0_hallucination"] = "1"
    form["flag_1_satisfies_constraint"] = "yes"
    r = c.post(f"/a/{aid}/submit", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    with st.tx() as s:
        a = s.get(Assignment, aid)
        ranks = s.get(RankingRow, aid).ranks
        texts = [x.text for x in s.scalars(select(Response).where(Response.item_id == a.item_id).order_by(Response.idx))]
        want = {shown[0]: 1, shown[1]: 1, shown[2]: 2, shown[3]: 3}  # dense: 1,1,3,4 -> 1,1,2,3
        assert ranks == [want[t] for t in texts]
        ratings = {s.get(Response, x.response_id).text: x for x in s.scalars(select(RatingRow))}
        assert ratings[shown[0]].hallucination is True and ratings[shown[0]].likert == 7
        assert ratings[shown[1]].satisfies_constraint is True
        assert ratings[shown[2]].satisfies_constraint is None  # n/a
        assert ratings[shown[3]].hallucination is False


def test_incomplete_rating_is_refused_and_skip_needs_reason(app, st):
    _batch(st, rank_batch("r1", n=1, k=2))
    add_user(st, "ann")
    c = login(app, "ann")
    aid, page = _lease_page(c, "rate_rank")
    csrf = csrf_of(page.text)
    r = c.post(f"/a/{aid}/submit", data={"csrf": csrf, "likert_0": "5", "rank_0": "1", "rank_1": "2"})
    assert r.status_code == 400 and "output 2" in r.text
    assert c.post(f"/a/{aid}/skip", data={"csrf": csrf, "reason": " "}).status_code == 400
    r = c.post(f"/a/{aid}/skip", data={"csrf": csrf, "reason": "not my field"}, follow_redirects=False)
    assert r.status_code == 303
    with st.tx() as s:
        assert s.get(Assignment, aid).skip_reason == "not my field"


def test_other_labelers_assignment_is_refused(app, st):
    _batch(st, rank_batch("r1", n=2, k=2))
    add_user(st, "ann")
    add_user(st, "bob")
    ann, bob = login(app, "ann"), login(app, "bob")
    aid, _ = _lease_page(ann, "rate_rank")
    bob_csrf = csrf_of(bob.get("/").text)
    assert bob.get(f"/a/{aid}").status_code == 404
    assert bob.post(f"/a/{aid}/submit", data={"csrf": bob_csrf}).status_code == 404
    assert bob.post(f"/a/{aid}/draft", data={"csrf": bob_csrf, "x": "1"}).status_code == 404
    assert bob.post(f"/a/{aid}/skip", data={"csrf": bob_csrf, "reason": "r"}).status_code == 404


def test_csrf_and_cross_origin_posts_are_rejected(app, st):
    _batch(st, demo_batch("d1", n=1))
    add_user(st, "ann")
    c = login(app, "ann")
    aid, page = _lease_page(c, "demo")
    assert c.post(f"/a/{aid}/submit", data={"text": "x"}).status_code == 403
    assert c.post(f"/a/{aid}/submit", data={"text": "x", "csrf": "forged"}).status_code == 403
    r = c.post(f"/a/{aid}/submit", data={"text": "x", "csrf": csrf_of(page.text)},
               headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    fresh = TestClient(app)
    assert fresh.post("/login", data={"username": "ann", "password": PASSWORD}).status_code == 403
    with st.tx() as s:
        assert s.get(DemoRow, aid) is None


def test_script_in_model_output_is_rendered_inert(app, st):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    lb = rank_batch("xss", n=1, k=2)
    payload = batch_to_json(lb)
    payload["items"][0]["responses"][0] = evil
    payload["items"][0]["prompt"]["text"] = "Prompt </pre><script>bad()</script>"
    with st.tx() as s:
        service.create_batch(s, st.cfg, payload, "test")
    add_user(st, "ann")
    c = login(app, "ann")
    aid, page = _lease_page(c, "rate_rank")
    assert "<script>alert" not in page.text and "<img src=x" not in page.text and "<script>bad" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/static/app.js" defer>']


def test_login_rate_limit_and_no_default_credentials(app, st):
    c = TestClient(app)
    for user, pw in [("admin", "admin"), ("admin", "password"), ("root", "root")]:
        r = c.post("/login", data={"username": user, "password": pw, "csrf": csrf_of(c.get("/login").text)})
        assert r.status_code == 401  # a fresh database has no accounts at all
    add_user(st, "ann")
    for _ in range(st.cfg.login_attempts - 3):
        c.post("/login", data={"username": "ann", "password": "wrong-password",
                               "csrf": csrf_of(c.get("/login").text)})
    r = c.post("/login", data={"username": "ann", "password": PASSWORD, "csrf": csrf_of(c.get("/login").text)})
    assert r.status_code == 429  # this IP used its 5 failures, even the right password waits
    with st.tx() as s:
        assert s.scalar(select(Event).where(Event.type == "login.fail")) is not None


def test_lease_rate_limit(db_url):
    from instructrl.labelapp.app import create_app

    app = create_app(make_cfg(db_url, lease_per_min=2))
    st = app.state.irl
    _batch(st, rank_batch("r1", n=5, k=2))
    add_user(st, "ann")
    c = login(app, "ann")
    codes = [c.get("/work?kind=rate_rank", follow_redirects=False).status_code for _ in range(3)]
    assert codes == [303, 303, 429]
    app.state.irl.engine.dispose()


def test_admin_routes_check_the_role(app, st, admin_token):
    add_user(st, "ann")
    c = login(app, "ann")
    for path in ("/admin", "/admin/labelers", "/admin/quality", "/admin/tokens", "/admin/export/rankings.jsonl"):
        assert c.get(path).status_code == 403, path
    csrf = csrf_of(c.get("/").text)
    assert c.post("/admin/invite", data={"csrf": csrf}).status_code == 403
    anon = TestClient(app)
    assert anon.get("/admin", follow_redirects=False).status_code == 303


def test_admin_imports_prompts_creates_batches_invites_and_exports(app, st, admin_token):
    c = login(app, "root")
    csrf = csrf_of(c.get("/admin").text)
    jsonl = '{"id": "a", "text": "Explain tides."}\n"Name three rivers."\n{"id": "a2", "text": "Explain  tides."}\n'
    r = c.post("/admin/prompts", data={"csrf": csrf}, files={"file": ("p.jsonl", jsonl)})
    assert r.status_code == 200 and "imported 2 prompts (1 duplicates skipped)" in r.text
    csv = "id,text,category\nc1,Summarise this.,summarization\nc2,Name three rivers.,\n"
    r = c.post("/admin/prompts", data={"csrf": csrf}, files={"file": ("p.csv", csv)})
    assert "imported 1 prompts (1 duplicates skipped)" in r.text
    r = c.post("/admin/batches/demo", data={"csrf": csrf, "n": "2", "batch_id": "demo-1"})
    assert "demonstration batch demo-1 created" in r.text
    samples = "\n".join(json.dumps({"prompt": {"id": f"s{i}", "text": f"Q{i}"}, "responses": ["x", "y", "z"],
                                    "sources": ["sft", "ppo", "ppo"]}) for i in range(2))
    r = c.post("/admin/batches", data={"csrf": csrf, "batch_id": "rank-1", "overlap": "2"},
               files={"file": ("s.jsonl", samples)})
    assert "batch rank-1 created" in r.text
    r = c.post("/admin/invite", data={"csrf": csrf, "pool": "heldout"}, follow_redirects=False)
    link = re.search(r"/invite/([A-Za-z0-9_-]{40,})", r.text)
    assert r.status_code == 200 and link  # shown in the response itself, never in a URL
    assert "<b>heldout</b> pool" in TestClient(app).get(f"/invite/{link.group(1)}").text
    r = c.post("/admin/tokens", data={"csrf": csrf, "name": "loop", "scopes": ["batches:write", "results:read"]})
    assert re.search(r"irl_[A-Za-z0-9_-]{20,}", r.text)
    assert c.get("/admin/export/comparisons.jsonl").status_code == 200
    assert c.get("/admin/quality?batch=rank-1").status_code == 200
    bad = c.post("/admin/prompts", data={"csrf": csrf}, files={"file": ("p.jsonl", '{"id": 1}\n')})
    assert bad.status_code == 400 and "p.jsonl:1" in bad.text


def test_upload_size_cap(db_url):
    from instructrl.labelapp.app import create_app

    app = create_app(make_cfg(db_url, max_upload_bytes=1000))
    r = TestClient(app).post("/api/v1/batches", content=b"x" * 5000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    app.state.irl.engine.dispose()


def test_audit_log_is_append_only(app, st):
    add_user(st, "ann")
    with st.tx() as s:
        service.audit(s, "t", "test.event")
    with pytest.raises(Exception, match="append-only"):
        with st.tx() as s:
            s.execute(text("DELETE FROM events"))
    with pytest.raises(Exception, match="append-only"):
        with st.tx() as s:
            s.execute(text("UPDATE events SET actor = 'x'"))
