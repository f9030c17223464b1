"""Work assignment: ordering, caps, lease expiry, pools, gold, no self-rating."""

import random
import re
import time

import pytest
from sqlalchemy import select

from instructrl.labelapp import service
from instructrl.labelapp.assign import Candidate, expire_stale, LeaseLimit, lease_next, order_candidates, serve_gold, work_purposes
from instructrl.labelapp.db import Assignment, Item
from instructrl.labelapp.wire import batch_to_json

from .conftest import add_user, demo_batch, rank_batch


def _batch(st, batch, **extra):
    with st.tx() as s:
        b, created = service.create_batch(s, st.cfg, {**batch_to_json(batch), **extra}, "test")
        assert created
        return b


def _lease(st, username, kind="rate_rank", now=None, reuse=False, rng=None):
    with st.tx() as s:
        user = s.scalar(select(service.User).where(service.User.username == username))
        return lease_next(s, user, kind, st.cfg, rng or random.Random(0), now=now, reuse=reuse)


def test_order_candidates_priority_started_seq_and_own_demo():
    cands = [Candidate(1, 0, False, 1, 0), Candidate(2, 0, True, 1, 5), Candidate(3, 5, False, 2, 9),
             Candidate(4, 9, False, 3, 0, authors=(7,))]
    assert [c.item_id for c in order_candidates(cands, user_id=7)] == [3, 2, 1]
    assert [c.item_id for c in order_candidates(cands, user_id=8)] == [4, 3, 2, 1]


def test_serve_gold_and_purposes():
    rng = random.Random(0)
    assert serve_gold(rng, n_tasks_done=2, gold_rate=0.0, onboard_gold=3)
    assert not serve_gold(rng, n_tasks_done=3, gold_rate=0.0, onboard_gold=3)
    assert serve_gold(rng, n_tasks_done=99, gold_rate=1.0, onboard_gold=0)
    assert work_purposes("screening") == ("screening",)
    assert work_purposes("probation") == ("gold",)
    assert work_purposes("rejected") == ()


def test_overlap_caps_an_item(st):
    _batch(st, rank_batch("b1", n=1, overlap=2))
    for name in ("ann", "bob", "cat"):
        add_user(st, name)
    a1, a2 = _lease(st, "ann"), _lease(st, "bob")
    assert a1 is not None and a2 is not None and a1.item_id == a2.item_id
    assert _lease(st, "cat") is None  # two live leases fill overlap=2
    assert _lease(st, "ann") is None  # never the same item twice to one person


def test_open_lease_cap_and_reuse(st):
    _batch(st, rank_batch("b1", n=5))
    add_user(st, "ann")
    got = [_lease(st, "ann") for _ in range(3)]
    assert len({a.item_id for a in got}) == 3
    with pytest.raises(LeaseLimit):
        _lease(st, "ann")
    again = _lease(st, "ann", reuse=True)  # the pages resume the oldest open task instead
    assert again.id == got[0].id


def test_expired_lease_frees_the_slot_and_keeps_the_draft(st):
    _batch(st, rank_batch("b1", n=1))
    add_user(st, "ann")
    add_user(st, "bob")
    now = time.time()
    a = _lease(st, "ann", now=now)
    with st.tx() as s:
        service.save_draft(s, st.cfg, s.get(Assignment, a.id), {"notes_0": "half-written"})
    assert _lease(st, "bob", now=now + 60) is None
    later = now + st.cfg.lease_ttl_s + 120
    b = _lease(st, "bob", now=later)
    assert b is not None and b.item_id == a.item_id
    with st.tx() as s:
        assert expire_stale(s, later) == 1  # the sweeper marks ann's stale lease
        old = s.get(Assignment, a.id)
        assert old.status == "expired" and old.draft == {"notes_0": "half-written"}
    # bob submits; ann's late submit is refused (item full) but her draft stays
    with st.tx() as s:
        service.submit_rate_rank(s, st.cfg, s.get(Assignment, b.id), [5, 4, 3, 2], [{}] * 4, [""] * 4, [1, 2, 3, 4],
                                 False, 1.0, "bob")
    with pytest.raises(service.Conflict):
        with st.tx() as s:
            service.submit_rate_rank(s, st.cfg, s.get(Assignment, a.id), [5, 4, 3, 2], [{}] * 4, [""] * 4,
                                     [1, 2, 3, 4], False, 1.0, "ann")
    with st.tx() as s:
        assert s.get(Assignment, a.id).draft == {"notes_0": "half-written"}


def test_expired_lease_can_still_submit_when_capacity_left(st):
    _batch(st, rank_batch("b1", n=1))
    add_user(st, "ann")
    now = time.time()
    a = _lease(st, "ann", now=now - st.cfg.lease_ttl_s - 10)  # already expired
    with st.tx() as s:
        service.submit_rate_rank(s, st.cfg, s.get(Assignment, a.id), [7, 6, 5, 4], [{}] * 4, [""] * 4, [1, 1, 2, 3],
                                 False, 3.0, "ann")
        assert s.get(Assignment, a.id).status == "submitted"


def test_pools_and_statuses_route_work(st):
    _batch(st, rank_batch("train1", n=1))
    _batch(st, rank_batch("held1", n=1, pool="heldout"))
    screen = batch_to_json(rank_batch("screen1", n=1))
    screen["items"][0]["gold"] = {"ranks": [1, 2, 3, 4]}
    with st.tx() as s:
        service.create_batch(s, st.cfg, {**screen, "purpose": "screening"}, "test")
    add_user(st, "trainer")
    add_user(st, "evaluator", pool="heldout")
    add_user(st, "newbie", status="screening")
    add_user(st, "gone", status="rejected")
    batch_of = {}
    with st.tx() as s:
        for it in s.scalars(select(Item)):
            batch_of[it.id] = s.get(service.Batch, it.batch_id).external_id
    assert batch_of[_lease(st, "trainer").item_id] == "train1"
    assert _lease(st, "trainer") is None  # never held-out or screening work
    assert batch_of[_lease(st, "evaluator").item_id] == "held1"
    assert _lease(st, "evaluator") is None
    assert batch_of[_lease(st, "newbie").item_id] == "screen1"
    assert _lease(st, "newbie") is None
    assert _lease(st, "gone") is None


def test_no_labeler_rates_their_own_demonstration(st):
    _batch(st, demo_batch("d1", n=1))
    add_user(st, "writer")
    add_user(st, "other")
    a = _lease(st, "writer", kind="demo")
    with st.tx() as s:
        service.submit_demo(s, st.cfg, s.get(Assignment, a.id), "My own careful answer.", 5.0, "writer")
    lb = rank_batch("r1", n=1)
    payload = batch_to_json(lb)
    payload["items"][0]["prompt"] = {"id": "d1-p0", "text": "Write about 0"}
    payload["items"][0]["responses"][2] = "My own careful answer."
    with st.tx() as s:
        service.create_batch(s, st.cfg, payload, "test")
    assert _lease(st, "writer") is None
    assert _lease(st, "other") is not None


def test_gold_items_are_served_hidden_and_scored(st):
    _batch(st, rank_batch("prod", n=3))
    gold = batch_to_json(rank_batch("gold", n=2))
    for it in gold["items"]:
        it["gold"] = {"ranks": [1, 2, 3, 4]}
    with st.tx() as s:
        service.create_batch(s, st.cfg, {**gold, "purpose": "gold"}, "test")
    add_user(st, "ann")
    st.cfg = st.cfg.with_(onboard_gold=2, probation_min_results=2)
    served = []
    for _ in range(2):
        a = _lease(st, "ann")
        with st.tx() as s:
            served.append(s.get(service.Batch, s.get(Item, a.item_id).batch_id).external_id)
            # rank in reverse display... of idx order: every gold pair wrong
            service.submit_rate_rank(s, st.cfg, s.get(Assignment, a.id), [4, 4, 4, 4], [{}] * 4, [""] * 4,
                                     [4, 3, 2, 1], False, 1.0, "ann")
    assert served == ["gold", "gold"]
    with st.tx() as s:
        user = s.scalar(select(service.User).where(service.User.username == "ann"))
        assert user.status == "probation"  # rolling gold score 0 < 0.6
        scores = list(s.scalars(select(service.GoldResult.score)))
        assert scores == [0.0, 0.0]
    assert _lease(st, "ann") is None  # on probation: no production work (only unseen gold, none left)


def test_agreement_rate_doubles_a_share_of_items(st):
    st.cfg = st.cfg.with_(agreement_rate=0.25)
    _batch(st, rank_batch("many", n=80, k=2))
    with st.tx() as s:
        overlaps = [it.overlap for it in s.scalars(select(Item))]
    assert set(overlaps) == {1, 2} and 10 <= overlaps.count(2) <= 30  # ~25% of 80, deterministic per item


def test_items_skipped_by_several_go_to_review(st):
    _batch(st, rank_batch("b1", n=1))
    names = [f"u{i}" for i in range(st.cfg.max_skips)]
    for n in names:
        add_user(st, n)
    for n in names:
        a = _lease(st, n)
        with st.tx() as s:
            service.skip(s, st.cfg, s.get(Assignment, a.id), "cannot judge", n)
    with st.tx() as s:
        item = s.scalar(select(Item))
        assert item.status == "review"
        prog = service.batch_progress(s, s.get(service.Batch, item.batch_id))
        assert prog["n_done"] == 1 and prog["n_review"] == 1 and prog["status"] == "done"


def test_screening_answers_are_scored_for_the_admin(app, st):
    from .conftest import login

    screen = batch_to_json(rank_batch("screen", n=2, k=2))
    for it in screen["items"]:
        it["gold"] = {"ranks": [1, 2], "flags": [{"violent_content": False}, {"violent_content": True}]}
    with st.tx() as s:
        service.create_batch(s, st.cfg, {**screen, "purpose": "screening"}, "test")
        admin = service.create_user(s, "root", "admin", pw_hash=st.hasher.hash("correct-horse-battery"))
        assert admin.id
    add_user(st, "good", status="screening")
    add_user(st, "bad", status="screening")
    for name, ranks, flag in (("good", [1, 2], True), ("bad", [2, 1], False)):
        for _ in range(2):
            a = _lease(st, name)
            with st.tx() as s:
                flags = [{"violent_content": False}, {"violent_content": flag}]
                service.submit_rate_rank(s, st.cfg, s.get(Assignment, a.id), [5, 3], flags, ["", ""], ranks, False,
                                         2.0, name)
    page = login(app, "root").get("/admin/quality").text
    rows = {m[0]: m[1] for m in re.findall(r"<tr><td>(good|bad)</td>.*?<td>(yes|no)</td>", page, re.S)}
    assert rows == {"good": "yes", "bad": "no"}
    assert "100.0%" in page and "0.0%" in page


def test_sweeper_expires_leases_and_idle_sessions(app, st):
    from instructrl.labelapp.app import _sweep
    from instructrl.labelapp.db import WebSession

    from .conftest import login

    _batch(st, rank_batch("b1", n=1))
    add_user(st, "ann")
    login(app, "ann")
    a = _lease(st, "ann")
    with st.tx() as s:
        s.get(Assignment, a.id).expires_at = time.time() - 1
        for ws in s.scalars(select(WebSession)):
            ws.last_seen = time.time() - st.cfg.session_idle_s - 1
    _sweep(st)
    with st.tx() as s:
        assert s.get(Assignment, a.id).status == "expired"
        assert s.scalar(select(WebSession)) is None


def test_gold_and_screening_batches_need_gold_answers(st):
    with pytest.raises(service.AppError, match="needs a 'gold' answer"):
        _batch(st, rank_batch("g", n=1), purpose="gold")
