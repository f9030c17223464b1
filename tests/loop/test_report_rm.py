"""The report's reward-model section and summary column: the RM's accuracy on held-out
rankings next to its accuracy on the evaluation's fresh comparisons, per round."""

import json

from instructrl.loop.report import reward_section, summary_table


def _round(root, k, held, fresh, fresh_n, agreement, n_rankings):
    rd = root / f"round-{k}"
    for sub in ("rm", "data", "rm-data", "eval"):
        (rd / sub).mkdir(parents=True)
    (rd / "rm" / "eval.json").write_text(json.dumps({"rm/valid_accuracy": held, "rm/valid_n_pairs": 160.0}))
    (rd / "data" / "labeling.json").write_text(json.dumps({"rankings": 5, "agreement": {"agreement": agreement, "n_pairs": 40}}))
    (rd / "rm-data" / "rankings.jsonl").write_text("".join('{"x": %d}\n' % i for i in range(n_rankings)))
    return {"round": k, "policies": {"sft": {"likert": 5.0}, "ppo": {"likert": 5.2, "rm_accuracy": fresh, "rm_n": fresh_n}}}


def test_reward_section_lists_each_round(tmp_path):
    rounds = [_round(tmp_path, 1, 0.632, 0.5, 84.0, 0.753, 300), _round(tmp_path, 2, 0.641, 0.395, 76.0, 0.79, 600)]
    out = reward_section(tmp_path, rounds)
    assert "| 1 | 300 | 0.632 (160 pairs) | 0.500 (84 pairs) | 0.753 |" in out
    assert "| 2 | 600 | 0.641 (160 pairs) | 0.395 (76 pairs) | 0.790 |" in out
    # round 0 (SFT only) and a missing file give no row / n/a, not a crash
    (tmp_path / "round-2" / "data" / "labeling.json").unlink()
    out = reward_section(tmp_path, [{"round": 0, "policies": {"sft": {}}}] + rounds)
    rows = [line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [r.split(" |")[0] for r in rows] == ["| 1", "| 2"] and rows[1].endswith("| n/a |")
    assert reward_section(tmp_path, [{"round": 0, "policies": {"sft": {}}}]) == ""


def test_summary_table_has_the_fresh_rm_accuracy(tmp_path):
    rounds = [_round(tmp_path, 1, 0.632, 0.5, 84.0, 0.753, 300)]
    rows = summary_table(rounds).splitlines()
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    col = header.index("RM acc. on fresh pairs")
    sft = [c.strip() for c in rows[2].strip("|").split("|")]
    ppo = [c.strip() for c in rows[3].strip("|").split("|")]
    assert len(sft) == len(header) == len(rows[1].strip("|").split("|"))
    assert sft[col] == "n/a" and ppo[col] == "0.500"


def test_summary_table_names_the_interval_method_and_counts(tmp_path):
    rounds = [_round(tmp_path, 1, 0.632, 0.5, 84.0, 0.753, 300)]
    rounds[0]["policies"]["ppo"]["win_rate"] = {"win_rate": 0.572, "ci_low": 0.518, "ci_high": 0.623, "wins": 54, "ties": 62, "losses": 34, "interval": "bootstrap"}
    rows = summary_table(rounds).splitlines()
    assert "win rate vs SFT (95% CI, bootstrap; W/T/L)" in rows[0]
    assert "| 0.572 (0.518-0.623); 54/62/34 |" in rows[3]


def test_plots_are_replaced_atomically(tmp_path):
    """A plot is written to a temporary file and moved into place: a save that fails midway
    (a kill, a full disk) leaves the previous PNG whole, and a good save leaves no temp file."""
    import pytest

    from instructrl.loop.report import _plt, _save

    out = tmp_path / "winrate.png"
    fig, ax = _plt().subplots()
    ax.plot([0, 1], [0, 1])
    _save(fig, out)
    good = out.read_bytes()
    assert good.startswith(b"\x89PNG") and [p.name for p in tmp_path.iterdir()] == ["winrate.png"]

    fig, ax = _plt().subplots()

    def torn(path, **kw):
        open(path, "wb").write(b"\x89PN")
        raise OSError("disk full")

    fig.savefig = torn
    with pytest.raises(OSError, match="disk full"):
        _save(fig, out)
    assert out.read_bytes() == good
