import pytest

from instructrl.config import load_config, parse_overrides
from instructrl.sft import SFTConfig


def test_yaml_then_overrides(tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("batch_size: 4\nmodel:\n  name: tiny\noptim:\n  lr: 0.001\n")
    cfg = load_config(SFTConfig, y, ["--optim.lr", "2e-5", "model.dropout=0.1"])
    assert cfg.batch_size == 4 and cfg.optim.lr == 2e-5 and cfg.model.dropout == 0.1 and cfg.model.name == "tiny"


def test_unknown_key_names_it():
    with pytest.raises(ValueError, match=r"optim\.lrr"):
        load_config(SFTConfig, None, ["optim.lrr=1"])


def test_bad_value_names_key_and_value():
    with pytest.raises(ValueError, match=r"batch_size.*'many'"):
        load_config(SFTConfig, None, ["batch_size=many"])
    with pytest.raises(ValueError, match=r"select_by.*'best'"):
        load_config(SFTConfig, None, ["select_by=best"])
    with pytest.raises(ValueError, match=r"pretrain_fraction > 0 needs data.pretrain"):
        load_config(SFTConfig, None, ["data.pretrain_fraction=0.1"])


def test_parse_overrides_forms():
    assert parse_overrides(["--a-b", "3", "c.d=x", "--flag"]) == {"a_b": 3, "c": {"d": "x"}, "flag": True}
