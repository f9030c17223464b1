"""The extra closed-domain test set the hallucination rate is measured on (loop issue:
16 closed-domain prompts among 200 test prompts moved that rate by +-0.4 between reruns)."""

import math

from instructrl.labelers import heldout_panel
from instructrl.loop.evaluate import rating_summary
from instructrl.loop.stages import CLOSED_DOMAIN_CATEGORIES, closed_domain_test_set
from instructrl.tasks import demonstrate, generate_prompts
from instructrl.tasks import world as W
from instructrl.tasks.processing import prefix_key, process_prompts


def _split():
    prompts = generate_prompts(600, seed=3, n_users=40)
    train, valid, test = process_prompts(prompts, cap=200, fractions=(0.8, 0.1, 0.1), seed=3)
    return prompts, train, test


def _with_outsider(closed, responses):
    """Each response plus a world entity its prompt and passage never name (a hallucination)."""
    out = []
    for p, r in zip(closed, responses):
        context = p.as_text().lower()
        outsider = next(w for w in sorted(W.ENTITY_WORDS) if w not in context)
        out.append(f"{r} {outsider.capitalize()} agrees.")
    return out


def test_closed_set_is_closed_domain_from_test_users_and_deduplicated():
    prompts, train, test = _split()
    closed = closed_domain_test_set(40, 3, test, prompts)
    assert len(closed) == 40 and len({p.id for p in closed}) == 40
    assert all(p.id.startswith("closed-") for p in closed)
    assert {p.category for p in closed} <= set(CLOSED_DOMAIN_CATEGORIES) and len({p.category for p in closed}) == 3
    assert all(p.metadata["spec"]["closed_domain"] and p.metadata["spec"]["passage"] for p in closed)
    test_users = {p.user_id for p in test}
    assert {p.user_id for p in closed} <= test_users
    assert not {p.user_id for p in closed} & {p.user_id for p in train}
    keys = [prefix_key(p) for p in closed]
    assert len(set(keys)) == len(keys) and not set(keys) & {prefix_key(p) for p in prompts}
    again = closed_domain_test_set(40, 3, test, prompts)
    assert [p.as_text() for p in again] == [p.as_text() for p in closed]
    assert closed_domain_test_set(0, 3, test, prompts) == []


def test_hallucination_rate_counts_the_extra_closed_prompts_only_for_hallucination():
    prompts, _, test = _split()
    main = [p for p in test if not p.metadata["spec"].get("closed_domain")][:6]
    closed = closed_domain_test_set(10, 3, test, prompts)
    panel = heldout_panel(seed=1)
    main_resp = [demonstrate(p) for p in main]
    good = [demonstrate(p) for p in closed]
    base = rating_summary(panel, main, main_resp)
    assert base["n_closed_domain"] == 0 and math.isnan(base["hallucination"])
    clean = rating_summary(panel, main, main_resp, closed, good)
    assert clean["n_closed_domain"] == 10 and clean["hallucination"] == 0.0
    lo, hi = clean["hallucination_ci"]
    assert lo == 0.0 and 0.2 < hi < 0.35  # Wilson upper bound for 0 of 10
    # the extra prompts change nothing but the hallucination rate
    for key in ("likert", "fails_to_follow", "constraint_satisfied", "inappropriate", "n_constrained"):
        assert clean[key] == base[key] or (math.isnan(clean[key]) and math.isnan(base[key]))
    dirty = rating_summary(panel, main, main_resp, closed, _with_outsider(closed, good))
    assert dirty["hallucination"] > 0.5 and dirty["hallucination_ci"][0] > 0.4


def test_hallucination_among_attempted_answers_shows_an_off_task_template():
    """An off-task template ("Dear Nora, please come and visit us.") names nothing the
    passage lacks, so it lowers the plain hallucination rate; the closed-domain
    fails-to-follow rate and the rate among answers that do the task expose it."""
    prompts, _, test = _split()
    closed = closed_domain_test_set(30, 3, test, prompts)
    panel = heldout_panel(seed=1)
    good = [demonstrate(p) for p in closed]
    wrong = _with_outsider(closed, good)  # the task done, with an entity the passage lacks
    template = ["Dear friend, please come and visit us soon." for _ in closed]
    doing = rating_summary(panel, [], [], closed, wrong)
    dodging = rating_summary(panel, [], [], closed, template)
    assert doing["hallucination"] > 0.5 and dodging["hallucination"] < 0.2  # the plain rate rewards dodging
    assert doing["closed_fails_to_follow"] < 0.3 and dodging["closed_fails_to_follow"] > 0.7
    assert doing["hallucination_attempted"] > 0.5 and doing["n_closed_attempted"] >= 20
    assert dodging["n_closed_attempted"] <= 0.3 * 30
    clean = rating_summary(panel, [], [], closed, good)
    assert clean["hallucination_attempted"] == 0.0 and clean["n_closed_attempted"] == 30 - round(30 * clean["closed_fails_to_follow"])
