"""Many labelers leasing at once: no item over-assigned, no submitted label lost,
including across a server restart (a real uvicorn server on 127.0.0.1)."""

import threading
from collections import Counter

import httpx
from sqlalchemy import func, select

from instructrl.labelapp import service
from instructrl.labelapp.assign import LeaseLimit, lease_next
from instructrl.labelapp.client import HttpLabelers
from instructrl.labelapp.db import Assignment, Item, User
from instructrl.labelapp.wire import batch_to_json

from .conftest import LiveServer, add_user, rank_batch


def test_parallel_leases_never_over_assign(st):
    n_items, overlap, n_threads = 60, 2, 8
    with st.tx() as s:
        service.create_batch(s, st.cfg, batch_to_json(rank_batch("load", n=n_items, k=2, overlap=overlap)), "t")
    for t in range(n_threads):
        add_user(st, f"u{t}")
    errors, done = [], Counter()
    barrier = threading.Barrier(n_threads)

    def worker(t: int) -> None:
        rng = __import__("random").Random(t)
        barrier.wait()
        try:
            while True:
                with st.tx() as s:
                    user = s.scalar(select(User).where(User.username == f"u{t}"))
                    a = lease_next(s, user, "rate_rank", st.cfg, rng, reuse=False)
                    if a is None:
                        return
                    aid = a.id
                # hold the lease a moment so leases overlap between threads
                with st.tx() as s:
                    service.submit_rate_rank(s, st.cfg, s.get(Assignment, aid), [4, 4], [{}, {}], ["", ""],
                                             [1, 2], False, 1.0, f"u{t}")
                done[t] += 1
        except LeaseLimit as e:  # pragma: no cover - would be a bug: each lease is submitted first
            errors.append(e)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors[:3]
    assert sum(done.values()) == n_items * overlap
    with st.tx() as s:
        per_item = Counter(s.scalars(select(Assignment.item_id).where(Assignment.status == "submitted")))
        assert len(per_item) == n_items and set(per_item.values()) == {overlap}
        assert s.scalar(select(func.count()).select_from(Item).where(Item.status != "done")) == 0
        # nobody labeled the same item twice
        pairs = s.execute(select(Assignment.item_id, Assignment.user_id)).all()
        assert len(pairs) == len(set(pairs))


def test_concurrent_http_labelers_and_restart(cfg, admin_token):
    n_items, n_bots = 24, 8
    with LiveServer(cfg) as srv:
        loop = HttpLabelers(srv.url, admin_token)
        loop.submit(rank_batch("http-load", n=n_items, k=3))
        tokens = [httpx.post(f"{srv.url}/api/v1/labelers", json={"username": f"b{i}"},
                             headers={"Authorization": f"Bearer {admin_token}"}).json()["token"] for i in range(n_bots)]
        got: list[int] = []
        lock = threading.Lock()

        def bot(tok: str) -> None:
            h = {"Authorization": f"Bearer {tok}"}
            with httpx.Client(timeout=60) as c:
                while True:
                    r = c.post(f"{srv.url}/api/v1/label/lease", params={"kind": "rate_rank"}, headers=h)
                    if r.status_code == 204:
                        return
                    r.raise_for_status()
                    a = r.json()
                    body = {"ratings": [{"likert": 5}] * 3, "ranks": [1, 2, 2]}
                    c.post(f"{srv.url}/api/v1/label/a/{a['id']}/submit", json=body, headers=h).raise_for_status()
                    with lock:
                        got.append(a["id"])

        threads = [threading.Thread(target=bot, args=(t,)) for t in tokens]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=120)
        assert len(got) == n_items
        assert loop.status("http-load").complete
    # restart: a new server process on the same database sees every acknowledged label
    with LiveServer(cfg) as srv:
        res = HttpLabelers(srv.url, admin_token).results("http-load")
        assert len(res.rankings) == n_items
        assert all(r.ranks.count(2) == 2 for r in res.rankings)  # the tie survived the round trip
