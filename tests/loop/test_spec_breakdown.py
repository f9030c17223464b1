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
