"""A run directory is resumed only under the config it was made with: a changed command must
not silently get back (or continue) a model trained with the old settings; resume=false
starts over without leaving the old run's checkpoints or final/ behind."""

import pytest

from instructrl.config import build
from instructrl.runs import check_resume, config_changes, start_over, write_provenance
from instructrl.sft import SFTConfig


def _cfg(tmp_path, **over):
    return build(SFTConfig, {"output_dir": str(tmp_path), "data": {"train": "demos.jsonl"}, **over})


def test_config_changes_name_the_settings_that_differ_and_skip_operational_ones(tmp_path):
    write_provenance(tmp_path, _cfg(tmp_path))
    assert config_changes(tmp_path, _cfg(tmp_path)) == []
    assert config_changes(tmp_path, _cfg(tmp_path, threads=2, progress=False, micro_batch_size=2, save_every=5)) == []
    assert config_changes(tmp_path, _cfg(tmp_path, optim={"lr": 3e-4}, epochs=3)) == ["optim.lr: 0.0001 -> 0.0003", "epochs: 2.0 -> 3.0"]
    assert config_changes(tmp_path / "none", _cfg(tmp_path)) == []  # nothing saved there: nothing to compare


def test_a_path_spelled_another_way_is_the_same_setting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_provenance(tmp_path, _cfg(tmp_path))
    assert config_changes(tmp_path, _cfg(tmp_path, data={"train": "./demos.jsonl"})) == []
    assert config_changes(tmp_path, _cfg(tmp_path, data={"train": str(tmp_path / "demos.jsonl")})) == []
    assert config_changes(tmp_path, _cfg(tmp_path, data={"train": "other.jsonl"})) == ["data.train: 'demos.jsonl' -> 'other.jsonl'"]


def test_a_moved_run_keeps_the_paths_that_moved_with_it(tmp_path):
    def cfg(root, **over):
        return build(SFTConfig, {"output_dir": str(root / "x" / "round-1" / "rm"), "data": {"train": str(root / "x" / "data" / "d.jsonl")},
                                 "model": {"name": str(root / "x" / "round-0" / "sft" / "final")}, **over})

    a, b = tmp_path / "a", tmp_path / "b"
    run = b / "x" / "round-1" / "rm"
    write_provenance(a / "x" / "round-1" / "rm", cfg(a))
    a.rename(b)  # the whole run directory, inputs included
    assert config_changes(run, cfg(b)) == []
    assert config_changes(run, cfg(b, data={"train": str(a / "x" / "data" / "d.jsonl")})) == []  # the very same path
    assert [c.split(":")[0] for c in config_changes(run, cfg(b, data={"train": str(b / "x" / "data" / "e.jsonl")}))] == ["data.train"]
    assert [c.split(":")[0] for c in config_changes(run, cfg(b, model={"name": "tiny"}))] == ["model.name"]
    # not moved: a path at another place is a change, however it sits relative to the run
    write_provenance(run, cfg(b))
    assert [c.split(":")[0] for c in config_changes(run, cfg(b, data={"train": str(b / "y" / "data" / "d.jsonl")}))] == ["data.train"]


def test_check_resume_refuses_a_finished_or_resumable_run_made_with_another_config(tmp_path):
    write_provenance(tmp_path, _cfg(tmp_path))
    check_resume(tmp_path, _cfg(tmp_path, optim={"lr": 3e-4}))  # no model there yet: a fresh start, fine
    (tmp_path / "checkpoints" / "step-2").mkdir(parents=True)
    (tmp_path / "checkpoints" / "step-2" / "COMPLETE").write_text("")
    with pytest.raises(ValueError, match=r"resumable run .*optim\.lr: 0\.0001 -> 0\.0003.*resume=false"):
        check_resume(tmp_path, _cfg(tmp_path, optim={"lr": 3e-4}))
    (tmp_path / "final").mkdir()
    (tmp_path / "final" / "COMPLETE").write_text("")
    with pytest.raises(ValueError, match=r"finished run \(resuming would return its model as is\).*seed: 0 -> 1"):
        check_resume(tmp_path, _cfg(tmp_path, seed=1))
    check_resume(tmp_path, _cfg(tmp_path, threads=2))  # the same run: resumes


def test_start_over_clears_the_earlier_runs_models_and_keeps_the_rest(tmp_path):
    for d in ("checkpoints/step-9", "final", "best", "value", "tb"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "COMPLETE").write_text("")
    (tmp_path / "notes.txt").write_text("mine")
    start_over(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    start_over(tmp_path / "missing")  # nothing there: nothing to do
