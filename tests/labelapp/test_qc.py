"""QC math on hand-computed and textbook values."""

import math

import pytest

from instructrl.labelapp import qc

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units.
KRIPP_A = [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None]
KRIPP_B = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3]
KRIPP_C = [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None]
KRIPP_D = [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]
KRIPP_UNITS = list(zip(KRIPP_A, KRIPP_B, KRIPP_C, KRIPP_D))


def test_dense_ranks_keeps_order_and_ties():
    assert qc.dense_ranks([2, 2, 5, 1]) == [2, 2, 3, 1]
    assert qc.dense_ranks([1, 1, 3]) == [1, 1, 2]
    assert qc.dense_ranks([4, 3, 2, 1]) == [4, 3, 2, 1]
    assert qc.dense_ranks([3, 3, 3]) == [1, 1, 1]


@pytest.mark.parametrize("bad", [[], [0, 1], [1, True], [1.5, 2]])
def test_dense_ranks_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        qc.dense_ranks(bad)


def test_pair_agreement_by_hand():
    # pairs (0,1) agree, (0,2) agree, (1,2) disagree
    assert qc.pair_agreement([1, 2, 3], [1, 3, 2]) == (2, 3)
    # ties drop the pair unless both are strict: only (0,2) counts
    assert qc.pair_agreement([1, 1, 2], [1, 2, 2]) == (1, 1)
    # ties as a third class: (0,1) tie vs strict, (0,2) agree, (1,2) strict vs tie
    assert qc.pair_agreement_with_ties([1, 1, 2], [1, 2, 2]) == (1, 3)
    assert qc.pair_agreement_with_ties([1, 1, 2], [2, 2, 1]) == (1, 3)
    with pytest.raises(ValueError):
        qc.pair_agreement([1, 2], [1, 2, 3])


def test_kendall_tau_b_known_values():
    assert qc.kendall_tau_b([1, 2, 3, 4], [1, 2, 3, 4]) == pytest.approx(1.0)
    assert qc.kendall_tau_b([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # C=5, D=0, one tie in a: 5 / sqrt(5 * 6) (scipy.stats.kendalltau gives 0.91287)
    assert qc.kendall_tau_b([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9128709, abs=1e-6)
    assert math.isnan(qc.kendall_tau_b([1, 1, 1], [1, 2, 3]))


@pytest.mark.parametrize("level,expected", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_alpha_textbook(level, expected):
    assert qc.krippendorff_alpha(KRIPP_UNITS, level) == pytest.approx(expected, abs=5e-4)


def test_krippendorff_alpha_edge_cases():
    assert qc.krippendorff_alpha([(1, 1), (2, 2), (3, 3)], "nominal") == pytest.approx(1.0)
    # systematic disagreement is below chance
    assert qc.krippendorff_alpha([(1, 2), (2, 1)], "nominal") < 0
    assert math.isnan(qc.krippendorff_alpha([(1, None), (2,)], "nominal"))  # nothing pairable
    with pytest.raises(ValueError):
        qc.krippendorff_alpha(KRIPP_UNITS, "ratio")


def test_score_against_gold():
    gold = {"ranks": [1, 2, 2, 3], "likert": [7, 4, 4, 1],
            "flags": [{"hallucination": False}, {"hallucination": True, "satisfies_constraint": None}, {}, {}]}
    # gold-strict pairs: (0,1) (0,2) (0,3) (1,3) (2,3) = 5; the labeler ties 0 and 1 -> one miss
    out = qc.score_against_gold(gold, [1, 1, 2, 3], [6, 2, 4, 1], [{"hallucination": False}, {}, {}, {}])
    assert out["ranking"] == pytest.approx(4 / 5)
    assert out["likert"] == pytest.approx(3 / 4)  # |7-6|, |4-2|=2 miss, 0, 0
    assert out["flags"] == pytest.approx(1 / 2)  # hallucination on response 1 missed; None is n/a
    assert out["score"] == pytest.approx((0.8 + 0.75 + 0.5) / 3)
    perfect = qc.score_against_gold({"ranks": [2, 1]}, [2, 1], None, None)
    assert perfect == {"ranking": 1.0, "score": 1.0}


def test_rolling_score_uses_the_window():
    assert qc.rolling_score([0.0, 0.0, 1.0, 1.0], window=2) == 1.0
    assert qc.rolling_score([0.0, 0.0, 1.0, 1.0], window=4) == 0.5
    assert math.isnan(qc.rolling_score([], window=3))


def test_agreement_report_per_labeler_and_group():
    rows = [
        qc.RankedItem("i1", "ann", (1, 2, 3), "train"),
        qc.RankedItem("i1", "bob", (1, 3, 2), "train"),  # vs ann: 2 of 3 pairs
        qc.RankedItem("i2", "ann", (1, 2), "train"),
        qc.RankedItem("i2", "cat", (2, 1), "heldout"),  # vs ann: 0 of 1
        qc.RankedItem("i3", "bob", (1, 2), "train"),  # single label: ignored
    ]
    rep = qc.agreement_report(rows)
    assert rep["n_items"] == 2
    assert rep["pairwise"] == pytest.approx(2 / 4)
    assert rep["per_labeler"]["ann"]["pairwise"] == pytest.approx(2 / 4)
    assert rep["per_labeler"]["bob"]["pairwise"] == pytest.approx(2 / 3)
    assert rep["per_labeler"]["cat"]["pairwise"] == 0.0
    assert rep["per_group"]["train"]["pairwise"] == pytest.approx(2 / 3)  # cross-pool pairs excluded
    assert "heldout" not in rep["per_group"]
