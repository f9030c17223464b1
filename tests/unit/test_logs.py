"""Append-only JSONL logs (metrics, PPO samples, generation caches, stage timings) survive a
process killed mid-append: the torn last line is dropped and cut, nothing before it is lost,
and a later append starts on its own line. Corruption elsewhere is an error naming the line."""

import json
import warnings

import pytest

from instructrl.data import DataError
from instructrl.data.io import append_log, read_log, write_jsonl
from instructrl.runs import MetricsLogger, read_metrics


def _torn(path, rows, tail):
    """``rows`` written whole, then an append cut off after ``tail`` (no newline)."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)


def test_read_log_drops_and_cuts_a_torn_last_line(tmp_path):
    p = tmp_path / "log.jsonl"
    _torn(p, [{"step": 1}, {"step": 2}], '{"step": 3, "loss": 0.')
    with pytest.warns(UserWarning, match=r"log.jsonl:3: dropped an incomplete last line"):
        assert read_log(p) == [{"step": 1}, {"step": 2}]
    assert p.read_text() == '{"step": 1}\n{"step": 2}\n'
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: read again without a warning
        assert read_log(p) == [{"step": 1}, {"step": 2}]


def test_read_log_torn_first_line_and_absent_file(tmp_path):
    p = tmp_path / "log.jsonl"
    assert read_log(p) == []
    p.write_text('{"st')
    with pytest.warns(UserWarning):
        assert read_log(p) == []
    assert p.read_text() == ""


def test_read_log_raises_on_a_bad_line_that_is_not_the_last(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text('{"step": 1}\n{"step": \n{"step": 3}\n')
    with pytest.raises(DataError, match=r"log.jsonl:2.*invalid JSON"):
        read_log(p)
    # a complete (newline-terminated) last line that does not parse is corruption too
    p.write_text('{"step": 1}\nnot json\n')
    with pytest.raises(DataError, match=r"log.jsonl:2"):
        read_log(p)


def test_append_after_a_torn_line_starts_clean(tmp_path):
    p = tmp_path / "log.jsonl"
    _torn(p, [{"a": 1}], '{"a": 2, "b"')
    with pytest.warns(UserWarning):
        append_log(p, [{"a": 3}, {"a": 4}])
    assert read_log(p) == [{"a": 1}, {"a": 3}, {"a": 4}]
    write_jsonl(p, [{"a": 9}])
    assert read_log(p) == [{"a": 9}] and not (tmp_path / "log.jsonl.tmp").exists()


def test_metrics_logger_resumes_past_a_torn_append(tmp_path):
    """A run killed while logging step 3 resumes from its step-2 checkpoint: steps 1-2 stay,
    the torn step-3 line goes, and the resumed steps follow on lines of their own."""
    log = MetricsLogger(tmp_path, tensorboard=False)
    for s in (1, 2):
        log.log(s, {"loss": float(s)})
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "lo')
    with pytest.warns(UserWarning):
        log = MetricsLogger(tmp_path, tensorboard=False, resume_step=2)
    log.log(3, {"loss": 3.0})
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3]

