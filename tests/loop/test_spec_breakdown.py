"""The report's per-family / per-constraint breakdown (spec checks, no labeler noise)."""

from instructrl.data import Prompt
from instructrl.loop.evaluate import spec_breakdown
from instructrl.loop.report import spec_section
from instructrl.tasks import demonstrate, generate_prompts
from instructrl.tasks.grader import grade


def _prompts():
    return [p for p in generate_prompts(120, seed=5) if p.metadata["spec"].get("constraints")][:40]


def test_breakdown_counts_each_family_and_constraint_instance():
    prompts = _prompts()
    good = [demonstrate(p) for p in prompts]
    assert all(grade(p, r).ok for p, r in zip(prompts, good))  # the premise: demonstrations pass
    real = Prompt(id="real-1", text="Tell me a joke.")  # a real prompt has no spec: skipped
    out = spec_breakdown(prompts + [real], good + ["Why did the chicken..."])
    tasks = {}
    n_constraints = {}
    for p in prompts:
        spec = p.metadata["spec"]
        tasks[spec["task"]] = tasks.get(spec["task"], 0) + 1
        for c in spec["constraints"]:
            n_constraints[c["type"]] = n_constraints.get(c["type"], 0) + 1
    assert {k: n for k, (n, _) in out["task_done"].items()} == tasks
    assert {k: n for k, (n, _) in out["constraint_met"].items()} == n_constraints
    assert all(rate == 1.0 for _, rate in out["task_done"].values())
    assert all(rate == 1.0 for _, rate in out["constraint_met"].values())
    # a response that does nothing fails every family and the constraints it cannot meet
    bad = spec_breakdown(prompts, ["ok"] * len(prompts))
    assert all(rate == 0.0 for _, rate in bad["task_done"].values())
    assert bad["constraint_met"]["include_keywords"][1] == 0.0


def test_report_section_sets_the_last_round_against_sft():
    sft = {"task_done": {"open_qa": [10.0, 0.5], "poem": [4.0, 0.75]}, "constraint_met": {"case": [8.0, 0.5]}}
    r1 = {"task_done": {"open_qa": [10.0, 0.9], "poem": [4.0, 0.75]}, "constraint_met": {"case": [8.0, 0.25]}}
    rounds = [{"round": 1, "policies": {"sft": {"by_spec": sft}, "ppo": {"by_spec": r1}}}]
    text = spec_section(rounds)
    assert "## Where round 1 gained and lost" in text
    assert "| open_qa | 10 | 0.50 | 0.90 | +0.40 |" in text
    assert "| case | 8 | 0.50 | 0.25 | -0.25 |" in text
    assert text.index("open_qa") < text.index("poem")  # most prompts first
    # nothing to say without a policy or without spec checks (real prompts)
    assert spec_section([{"round": 0, "policies": {"sft": {"by_spec": sft}}}]) == ""
    empty = {"task_done": {}, "constraint_met": {}}
    assert spec_section([{"round": 1, "policies": {"sft": {"by_spec": empty}, "ppo": {"by_spec": empty}}}]) == ""


def test_changed_answers_splits_the_win_rate_by_what_changed():
    """Identical answers are ties by construction; the changed ones are split by the grader
    (better, equal or worse gold quality than SFT's), each with the panel's win rate."""
    from instructrl.loop.evaluate import changed_answers
    from instructrl.loop.report import summary_table

    prompts = _prompts()[:6]
    good = [demonstrate(p) for p in prompts]
    ours = [good[0], good[1], "ok", good[3] + " ", good[4], "ok too"] + ["a joke"]
    sft = [good[0], "ok", good[2], good[3], "ok", "ok"] + ["another joke"]
    scores = [0.5, 1.0, 0.0, 0.5, 0.75, 0.25, 1.0]
    real = Prompt(id="real-1", text="Tell me a joke.")  # no spec: counted as changed, not graded
    out = changed_answers(prompts + [real], ours, sft, scores)
    assert out["same_share"] == 2 / 7 and out["n_changed"] == 5  # whitespace aside, 0 and 3 are SFT's answers
    assert abs(out["changed_win_rate"] - (1.0 + 0.0 + 0.75 + 0.25 + 1.0) / 5) < 1e-12
    g = out["gold"]
    assert (g["better"]["n"], g["worse"]["n"], g["equal"]["n"]) == (2, 1, 1)
    assert g["better"]["win_rate"] == 0.875 and g["worse"]["win_rate"] == 0.0 and g["equal"]["win_rate"] == 0.25
    assert abs(g["better"]["share"] - 0.5) < 1e-12
    assert "gold" not in changed_answers([real], ["a"], ["b"], [0.5])
    line = summary_table([{"round": 1, "policies": {"sft": {}, "ppo": {"changed_answers": out}}}]).splitlines()[-1]
    assert line.startswith("Round 1's policy gives SFT's own answer on 29% of the test prompts") and "better than SFT's on 50%" in line
