"""A labeling stage's batch: a stage killed while people label resubmits the batch it sent
(not a new sample, which the labeling app would refuse under the same id, or have labeled
again); an `--only` rerun with new content (e.g. after SFT was retrained) is a new labeling
job under the next revision of the id, and with the same content re-attaches."""

import json

import pytest

from instructrl.config import build
from instructrl.data import Prompt
from instructrl.labelers.base import BatchStatus, LabelBatch, LabelResults, RankingItem
from instructrl.loop import LoopConfig
from instructrl.loop.stages import labeling_batch, next_revision


def _batch(answer: str, batch_id: str = "run/round-1/rankings") -> LabelBatch:
    item = RankingItem(prompt=Prompt(id="p1", text="Name a colour."), responses=(answer, "blue"), sources=("round-0/sft",) * 2)
    return LabelBatch(id=batch_id, kind="rankings", items=(item,))


class Died(Exception):
    pass


class LabelApp:
    """The labeling app's contract: one id, one content (409 otherwise); the same again re-attaches."""

    def __init__(self):
        self.batches: dict[str, LabelBatch] = {}
        self.submitted: list[str] = []
        self.die_while_waiting = False

    def submit(self, batch):
        if batch.id in self.batches and self.batches[batch.id] != batch:
            raise RuntimeError(f"409: batch {batch.id!r} already exists with different content")
        self.batches[batch.id] = batch
        self.submitted.append(batch.id)
        return batch.id

    def status(self, batch_id):
        if self.die_while_waiting:
            raise Died  # the run is killed while people label
        return BatchStatus(batch_id=batch_id, n_items=1, n_done=1)

    def results(self, batch_id, partial=False):
        return LabelResults(batch_id=batch_id)


def test_next_revision():
    assert next_revision("run/round-1/rankings") == "run/round-1/rankings-r2"
    assert next_revision("run/round-1/rankings-r2") == "run/round-1/rankings-r3"
    assert next_revision("run/round-1/rankings-r9") == "run/round-1/rankings-r10"
    assert next_revision("my-run/round-1/rankings") == "my-run/round-1/rankings-r2"


def test_a_saved_batch_is_reused_and_a_previous_one_decides_the_id(tmp_path):
    made = []

    def make(answer):
        def go():
            made.append(answer)
            return _batch(answer)
        return go

    first = labeling_batch(tmp_path, make("red"))
    assert first == _batch("red") and json.loads((tmp_path / "batch.json").read_text())["id"] == "run/round-1/rankings"
    assert labeling_batch(tmp_path, make("green")) == first and made == ["red"]  # resumed: not built again
    (tmp_path / "batch.json").replace(tmp_path / "previous-batch.json")  # what `--only` does
    assert labeling_batch(tmp_path, make("red")).id == "run/round-1/rankings"  # same content: same job
    (tmp_path / "batch.json").replace(tmp_path / "previous-batch.json")
    second = labeling_batch(tmp_path, make("green"))
    assert second == _batch("green", "run/round-1/rankings-r2")
    (tmp_path / "batch.json").replace(tmp_path / "previous-batch.json")
    assert labeling_batch(tmp_path, make("yellow")).id == "run/round-1/rankings-r3"


def test_killed_while_labeling_resumes_its_batch_and_only_reruns_get_a_new_id(tmp_path, monkeypatch):
    import instructrl.loop as L
    import instructrl.loop.report as R
    import instructrl.loop.stages as S

    cfg = build(LoopConfig, {"runs_dir": str(tmp_path), "rounds": 1, "name": "run", "labelers_poll_s": 0.0})
    app = LabelApp()
    policy = {"answer": "red"}  # what the current policy samples
    monkeypatch.setattr(S, "make_backend", lambda c, pool="train": app)
    monkeypatch.setattr(S, "ranking_batch", lambda c, root, k: _batch(policy["answer"]))
    d = cfg.root / "round-1" / "data"
    monkeypatch.setattr(L, "stages_of", lambda c: [("round-1/data", d, lambda: S.collect_rankings(c, c.root, 1))])
    monkeypatch.setattr(R, "write_report", lambda root, seed, timings, labelers: root / "report.md")
    monkeypatch.setattr(R, "summary_table", lambda rounds: "")
    monkeypatch.setattr(R, "load_rounds", lambda root: [])

    app.die_while_waiting = True
    with pytest.raises(Died):
        L.run(cfg)
    app.die_while_waiting = False
    policy["answer"] = "green"  # a resample would differ (other threads, another machine)
    L.run(cfg)  # resumes: the batch it sent, under its id
    assert app.submitted == ["run/round-1/rankings"] * 2 and app.batches["run/round-1/rankings"] == _batch("red")
    assert json.loads((d / "labeling.json").read_text())["batch"] == "run/round-1/rankings"

    L.run(cfg, only="round-1/data")  # the policy now samples "green": a new job
    assert app.submitted[-1] == "run/round-1/rankings-r2" and app.batches["run/round-1/rankings-r2"] == _batch("green", "run/round-1/rankings-r2")
    assert json.loads((d / "labeling.json").read_text())["batch"] == "run/round-1/rankings-r2"
    L.run(cfg, only="round-1/data")  # the same samples again: re-attaches to that job
    assert app.submitted[-1] == "run/round-1/rankings-r2" and len(app.batches) == 2
