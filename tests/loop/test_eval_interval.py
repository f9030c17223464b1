"""The loop's win-rate interval: bootstrap over prompts by default, with the Wilson bounds
recorded beside it (and the reverse), since ties counted half make Wilson conservative."""

from instructrl.evals.stats import mean_interval, wilson_interval
from instructrl.loop.evaluate import other_interval


def _records(counts):
    return [{"score_a": s} for s, n in counts.items() for _ in range(n)]


def test_other_interval_gives_the_method_not_chosen():
    recs = _records({0.0: 21, 0.25: 13, 0.5: 62, 0.75: 10, 1.0: 44})  # a measured 150-prompt round
    mean = sum(r["score_a"] for r in recs) / len(recs)
    w = other_interval("bootstrap", recs, seed=0)
    assert (w["ci_low_wilson"], w["ci_high_wilson"]) == wilson_interval(mean, len(recs))
    b = other_interval("wilson", recs, seed=0)
    assert (b["ci_low_bootstrap"], b["ci_high_bootstrap"]) == mean_interval([r["score_a"] for r in recs], "bootstrap", seed=0)[1:]
    # with 41% ties the bootstrap interval is clearly narrower than Wilson's, and both hold the mean
    assert w["ci_low_wilson"] < b["ci_low_bootstrap"] < mean < b["ci_high_bootstrap"] < w["ci_high_wilson"]
    assert (b["ci_high_bootstrap"] - b["ci_low_bootstrap"]) < 0.8 * (w["ci_high_wilson"] - w["ci_low_wilson"])


def test_without_ties_the_two_methods_agree():
    recs = _records({0.0: 60, 1.0: 90})
    w, b = other_interval("bootstrap", recs, 0), other_interval("wilson", recs, 0)
    assert abs(w["ci_low_wilson"] - b["ci_low_bootstrap"]) < 0.02 and abs(w["ci_high_wilson"] - b["ci_high_bootstrap"]) < 0.02
