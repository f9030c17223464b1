"""benchmarks/reward.py --combine: seeds of several record folders pooled into one record."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_reward", ROOT / "benchmarks" / "reward.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _record(folder: Path, seeds_acc: dict[int, tuple[float, float]], epochs: int = 1) -> Path:
    """A record folder as benchmarks/reward.py writes it: seed -> (instructrl, TRL) accuracy."""
    folder.mkdir(parents=True)
    cfg = {"model": "m", "data": None, "k": 4, "n_train": 48, "n_valid": 80, "batch_prompts": 2, "micro_prompts": 2,
           "trl_batch_pairs": 12, "lr": 1e-4, "trl_lr": None, "epochs": epochs, "max_len": 256, "loss": "grouped",
           "threads": 2, "seeds": ",".join(map(str, seeds_acc)), "sides": "instructrl,trl"}
    per_seed = []
    for seed, (a_i, a_t) in seeds_acc.items():
        per_seed.append({
            "seed": seed,
            "data": {"n_train_prompts": 48, "n_train_pairs": 288, "n_valid_prompts": 80, "mean_seq_tokens": 88.0},
            "speed": {s: {"steps": 24, "comparisons_per_s": c, "train_s": 276 / c, "peak_rss_mib": 1000.0} for s, c in (("instructrl", 10.0), ("trl", 1.25))},
            "heldout": {"instructrl": {"accuracy": a_i, "log_loss": 0.6, "n_pairs": 480.0}, "trl": {"accuracy": a_t, "log_loss": 0.7, "n_pairs": 480.0}},
        })
    (folder / "config.json").write_text(json.dumps(cfg))
    (folder / "result.json").write_text(json.dumps({"per_seed": per_seed, "provenance": {"git_sha": "abc", "hardware": {"cpu": "cpu-x"}}}))
    return folder


def test_combine_pools_seeds_and_reports_the_between_seed_spread(tmp_path):
    bench = _bench()
    a = _record(tmp_path / "a", {0: (0.60, 0.70), 1: (0.70, 0.70)})
    b = _record(tmp_path / "b", {2: (0.65, 0.60)})
    args, per_seed, sources = bench.combine([str(a), str(b)])
    assert [r["seed"] for r in per_seed] == [0, 1, 2] and args.seeds == "0,1,2"
    assert [s["seeds"] for s in sources] == [[0, 1], [2]]
    text = bench.write_record(tmp_path / "out", args, per_seed, sources)
    # differences -0.10, 0.00, +0.05: mean -0.0167, sd 0.0764, se 0.0441
    assert "per seed: -0.100, +0.000, +0.050; mean -0.0167, sd between seeds 0.0764, standard error of the mean 0.0441" in text
    assert "instructrl 0.6500, TRL 0.6667" in text
    assert "8.00x" in text  # 10 / 1.25 on every seed
    readme = (tmp_path / "out" / "README.md").read_text()
    assert str(a) in readme and "seeds [2]" in readme
    assert json.loads((tmp_path / "out" / "result.json").read_text())["sources"][1]["folder"] == str(b)


def test_combine_refuses_other_settings_and_repeated_seeds(tmp_path):
    bench = _bench()
    a = _record(tmp_path / "a", {0: (0.6, 0.7)})
    with pytest.raises(SystemExit, match="epochs"):
        bench.combine([str(a), str(_record(tmp_path / "b", {1: (0.6, 0.7)}, epochs=2))])
    with pytest.raises(SystemExit, match="seed 0 is already"):
        bench.combine([str(a), str(_record(tmp_path / "c", {0: (0.6, 0.7)}))])
