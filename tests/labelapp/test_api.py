"""The JSON API and the loop's HTTP backend, end to end on a temporary database."""

import json

import pytest

from instructrl.data.schemas import Demonstration, Ranking
from instructrl.labelapp.bot import RandomJudge, run_bots
from instructrl.labelapp.client import HttpLabelers, IncompleteBatch, LabelAppError, wait
from instructrl.labelers.base import BatchStatus, LabelerBackend

from .conftest import demo_batch, rank_batch


@pytest.fixture
def labelers(client, admin_token):
    return HttpLabelers("http://testserver", admin_token, client=client)


def test_http_labelers_is_a_labeler_backend(labelers):
    assert isinstance(labelers, LabelerBackend)


def test_lifecycle_submit_bots_label_results(client, admin_token, labelers):
    rb, db = rank_batch("run1/round1/rankings", n=4, k=4, overlap=2), demo_batch("run1/round1/demos", n=3)
    assert labelers.submit(rb) == rb.id and labelers.submit(db) == db.id
    assert labelers.status(rb.id) == BatchStatus(rb.id, 4, 0)
    with pytest.raises(IncompleteBatch):
        labelers.results(rb.id)
    report = run_bots("http://testserver", admin_token, n_labelers=2, client=client, poll_s=0)
    assert report.submitted == {"demo": 3, "rate_rank": 8}  # overlap 2: every item twice
    assert labelers.status(rb.id).complete and labelers.status(db.id).complete

    res = labelers.results(rb.id)
    assert len(res.rankings) == 8 and len(res.ratings) == 8 * 4
    by_prompt = {}
    for r in res.rankings:
        assert isinstance(r, Ranking) and r.k == 4
        # responses come back in the submitted order, whatever order the labeler saw
        assert r.responses == tuple(f"response {j} to prompt {r.prompt.id[-1]}" for j in range(4))
        assert r.metadata["sources"] == ["policy-0", "policy-1", "policy-0", "policy-1"]
        assert r.labeler_id.startswith("lab-")  # anonymised
        by_prompt.setdefault(r.prompt.id, set()).add(r.labeler_id)
    assert all(len(v) == 2 for v in by_prompt.values())  # two different labelers per item
    demos = labelers.results(db.id).demonstrations
    assert len(demos) == 3 and all(isinstance(d, Demonstration) for d in demos)

    rows = list(labelers.export("rankings"))
    assert len(rows) == 8 and all(set(r["ranks"]) <= {1, 2, 3, 4} for r in rows)
    assert labelers.agreement(rb.id)["n_items"] == 4


def test_submit_is_idempotent_and_resume_reattaches(client, admin_token, labelers):
    batch = rank_batch("run/r1", n=2)
    labelers.submit(batch)
    run_bots("http://testserver", admin_token, n_labelers=1, client=client, poll_s=0, max_tasks=1)
    # a resumed run submits the same batch again: same batch, progress kept, no new items
    resumed = HttpLabelers("http://testserver", admin_token, client=client)
    assert resumed.submit(batch) == batch.id
    prog = resumed.progress(batch.id)
    assert prog["n_items"] == 2 and prog["labels"]["submitted"] == 1
    r = client.post("/api/v1/batches", json={"id": batch.id, "kind": "rankings", "items": []},
                    headers={"Authorization": f"Bearer {admin_token}", "Idempotency-Key": batch.id})
    assert r.status_code == 409  # same id, other content
    r = client.post("/api/v1/batches", json={"id": "x"}, headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["error"]


def test_partial_results_and_cancel_at_deadline(client, admin_token, labelers):
    batch = rank_batch("partial", n=4)
    labelers.submit(batch)
    run_bots("http://testserver", admin_token, n_labelers=1, client=client, poll_s=0, max_tasks=3)
    assert labelers.status(batch.id).n_done == 3
    clock = iter([0.0, 0.0, 100.0, 100.0, 100.0])
    st = wait(labelers, batch.id, deadline_s=50, min_fraction=0.7, poll_s=1, sleep=lambda s: None,
              clock=lambda: next(clock))
    assert st.n_done == 3
    assert labelers.progress(batch.id)["status"] == "cancelled"
    assert len(labelers.results(batch.id).rankings) == 3  # a cancelled batch returns what was done
    clock2 = iter([0.0, 100.0, 100.0])
    labelers.submit(rank_batch("partial2", n=4))
    with pytest.raises(TimeoutError):
        wait(labelers, "partial2", deadline_s=50, min_fraction=0.5, sleep=lambda s: None, clock=lambda: next(clock2))


def test_wait_polls_with_backoff_until_complete():
    class Fake:
        def __init__(self):
            self.calls = 0

        def status(self, batch_id):
            self.calls += 1
            return BatchStatus(batch_id, 2, min(2, self.calls - 1))

    sleeps = []
    st = wait(Fake(), "b", poll_s=10, max_poll_s=20, sleep=sleeps.append)
    assert st.complete and sleeps == [10, 15]


def test_token_scopes_revocation_and_no_cookie_auth(client, admin_token, st):
    from instructrl.labelapp import service

    with st.tx() as s:
        admin = s.scalar(service.select(service.User).where(service.User.username == "root"))
        ro = service.create_token(s, admin, "readonly", ["results:read"], "t")
    labelers = HttpLabelers("http://testserver", ro, client=client)
    with pytest.raises(LabelAppError) as e:
        labelers.submit(rank_batch("nope"))
    assert e.value.status == 403
    assert labelers.agreement()["n_items"] == 0  # in scope: works, and records last_used
    assert client.get("/api/v1/batches/x").status_code == 401
    assert client.get("/api/v1/batches/x", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = client.get("/admin/tokens", follow_redirects=False)
    assert r.status_code == 303  # no session: the API token is not a login
    with st.tx() as s:
        t = s.scalar(service.select(service.ApiToken).where(service.ApiToken.name == "readonly"))
        assert t.last_used is not None and len(t.token_hash) == 64 and ro not in t.token_hash
        t.revoked_at = 1.0
    with pytest.raises(LabelAppError) as e:
        labelers.status("anything")
    assert e.value.status == 401


def test_exports_drop_ties_group_pairs_and_filter(client, admin_token, labelers, st):
    labelers.submit(rank_batch("ex", n=2, k=3))
    labelers.submit(rank_batch("ex-held", n=1, k=3, pool="heldout"))

    class TieJudge(RandomJudge):
        def rate_rank(self, prompt, responses):
            return [7, 7, 2], [{}, {}, {}], [1, 1, 2]  # a tie between the first two shown

    run_bots("http://testserver", admin_token, n_labelers=1, client=client, poll_s=0, judge_factory=TieJudge)
    run_bots("http://testserver", admin_token, n_labelers=1, client=client, poll_s=0, pool="heldout",
             judge_factory=TieJudge)
    rankings = list(labelers.export("rankings"))
    assert len(rankings) == 2  # held-out labels are not training data
    assert all(sorted(r["ranks"]) == [1, 1, 2] for r in rankings)  # ties kept
    comps = list(labelers.export("comparisons"))
    assert len(comps) == 4  # C(3,2)=3 pairs minus the tie, for each of 2 rankings
    groups = {}
    for c in comps:
        groups.setdefault(c["metadata"]["group_id"], []).append(c)
        assert c["chosen"] != c["rejected"] and c["labeler_id"].startswith("lab-")
    assert sorted(len(g) for g in groups.values()) == [2, 2]
    # the tied pair is never exported: both winners beat the same loser
    for g in groups.values():
        assert len({c["metadata"]["rejected_id"] for c in g}) == 1
    assert len(list(labelers.export("rankings", include=("heldout",)))) == 3
    named = list(labelers.export("ratings", include=("names",)))
    assert {r["labeler"] for r in named} == {"bot-train-0"}
    assert len(named) == 2 * 3 and set(named[0]["flags"]) >= {"hallucination", "satisfies_constraint"}
    assert {r["policy_tag"] for r in named} == {"policy-0", "policy-1"}
    r = client.get("/api/v1/export/secrets.jsonl", headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 400


def test_batch_validation_errors_name_the_field(client, admin_token):
    h = {"Authorization": f"Bearer {admin_token}", "Idempotency-Key": "bad"}
    body = {"id": "bad", "kind": "rankings", "items": [{"prompt": "p", "responses": ["only one"]}]}
    r = client.post("/api/v1/batches", json=body, headers=h)
    assert r.status_code == 400 and "items[0].responses" in r.json()["error"]
    r = client.post("/api/v1/batches", content=b"{not json", headers=h)
    assert r.status_code == 400


def test_labeler_api_refuses_other_labelers_assignments(client, admin_token, labelers):
    labelers.submit(rank_batch("own", n=2))
    h = {"Authorization": f"Bearer {admin_token}"}
    tok = {n: client.post("/api/v1/labelers", json={"username": n}, headers=h).json()["token"] for n in ("ann", "bob")}
    a = client.post("/api/v1/label/lease", params={"kind": "rate_rank"}, headers={"Authorization": f"Bearer {tok['ann']}"})
    assert a.status_code == 200 and "source" not in json.dumps(a.json()) and "policy-" not in a.text
    aid = a.json()["id"]
    bob = {"Authorization": f"Bearer {tok['bob']}"}
    assert client.get(f"/api/v1/label/a/{aid}", headers=bob).status_code == 404
    body = {"ratings": [{"likert": 4}] * 4, "ranks": [1, 2, 3, 4]}
    assert client.post(f"/api/v1/label/a/{aid}/submit", json=body, headers=bob).status_code == 404
    # an admin token cannot label, a labeler token cannot submit batches
    assert client.post("/api/v1/label/lease", headers=h).status_code == 403
    assert client.post("/api/v1/batches", json={"id": "z"}, headers={**bob, "Idempotency-Key": "z"}).status_code == 403


def test_bots_use_the_simulated_panel_on_generated_tasks(client, admin_token, labelers):
    tasks = pytest.importorskip("instructrl.tasks")
    from instructrl.labelers.base import LabelBatch, RankingItem

    prompts = tasks.generate_prompts(6, seed=3)
    items = tuple(RankingItem(p, tuple(tasks.response_mix(p, 4, seed=i))) for i, p in enumerate(prompts))
    batch = LabelBatch(id="gen", kind="rankings", items=items, overlap=2)
    labelers.submit(batch)
    labelers.submit(LabelBatch(id="gen-demos", kind="demonstrations", prompts=prompts[:2]))
    run_bots("http://testserver", admin_token, n_labelers=3, client=client, poll_s=0)
    res = labelers.results("gen")
    assert len(res.rankings) == 12
    # simulated labelers judge by the grader's quality (plus noise): agreement with it is well
    # above the 50% a random judge gets, over all strict pairs of the 12 rankings
    from instructrl.labelapp.qc import pair_agreement

    agree = total = 0
    for r in res.rankings:
        truth = [-tasks.grade(r.prompt, x).quality for x in r.responses]  # lower = better, like ranks
        a, t = pair_agreement(list(r.ranks), truth)
        agree, total = agree + a, total + t
    assert total >= 30 and agree / total >= 0.65, (agree, total)
    demos = labelers.results("gen-demos").demonstrations
    assert len(demos) == 2
    for d in demos:  # written by the task demonstrator, not the random fallback
        assert "(bot demonstration)" not in d.response and tasks.grade(d.prompt, d.response).quality >= 0.8
    rep = labelers.agreement("gen")
    assert rep["n_items"] == 6 and 0.0 <= rep["pairwise"] <= 1.0


def test_local_app_with_background_bots_labels_a_round():
    """The loop's view: submit over real HTTP, wait while bots label, fetch typed results."""
    from instructrl.labelapp.local import LocalLabelApp

    with LocalLabelApp(seed=0, agreement_rate=0.0) as app, app.bots(n_labelers=2):
        backend = app.backend()
        demos, ranks = demo_batch("round-1/demos", n=3), rank_batch("round-1/rankings", n=4, k=4)
        for b in (demos, ranks):
            backend.submit(b)
        for b in (demos, ranks):
            assert wait(backend, b.id, deadline_s=30, poll_s=0.05, max_poll_s=0.2).complete
        assert backend.submit(ranks) == ranks.id  # a resumed round re-attaches
        assert len(backend.results(demos.id).demonstrations) == 3
        assert len(backend.results(ranks.id).rankings) == 4


def test_exports_load_as_training_records_unchanged(client, admin_token, labelers, tmp_path):
    from instructrl.data.io import read_jsonl

    labelers.submit(rank_batch("train-me", n=2, k=4))
    labelers.submit(demo_batch("demo-me", n=2))
    run_bots("http://testserver", admin_token, n_labelers=1, client=client, poll_s=0)
    for what, record in (("rankings", "ranking"), ("demos", "demonstration"), ("comparisons", "ranking")):
        path = tmp_path / f"{what}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in labelers.export(what)))
        loaded = read_jsonl(path, record)
        assert len(loaded) == {"rankings": 2, "demos": 2, "comparisons": len(loaded)}[what] > 0
    rankings = read_jsonl(tmp_path / "rankings.jsonl", "ranking").records
    assert rankings[0].responses == tuple(f"response {j} to prompt 0" for j in range(4))
    assert rankings[0].metadata["batch_id"] == "train-me" and len(rankings[0].metadata["response_ids"]) == 4
    pairs = read_jsonl(tmp_path / "comparisons.jsonl", "ranking").records
    assert len(pairs) == sum(len(r.pairs()) for r in rankings) and all(p.ranks == (1, 2) for p in pairs)


def test_results_return_each_batch_its_own_prompts(client, admin_token, labelers):
    """Prompts are deduplicated in the registry, but a batch gets back exactly what it sent."""
    from instructrl.data.schemas import Prompt
    from instructrl.labelers.base import LabelBatch, RankingItem

    a = LabelBatch(id="A", kind="rankings", items=(RankingItem(Prompt(id="run1-p", text="Same text",
                                                                       metadata={"run": 1}), ("x", "y")),))
    b = LabelBatch(id="B", kind="rankings", items=(RankingItem(Prompt(id="run2-p", text="Same  text",
                                                                       metadata={"run": 2}), ("x", "y")),))
    labelers.submit(a)
    labelers.submit(b)
    run_bots("http://testserver", admin_token, n_labelers=1, client=client, poll_s=0)
    pa, pb = labelers.results("A").rankings[0].prompt, labelers.results("B").rankings[0].prompt
    assert (pa.id, pa.metadata, pa.text) == ("run1-p", {"run": 1}, "Same text")
    assert (pb.id, pb.metadata, pb.text) == ("run2-p", {"run": 2}, "Same  text")
