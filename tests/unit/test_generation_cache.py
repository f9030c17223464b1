"""The KV cache travels under the keyword the installed transformers expects."""

import pytest
import torch

from instructrl.models.generation import cache_kwarg, output_cache


class OldStyle(torch.nn.Module):  # transformers < 5: past_key_values
    def forward(self, input_ids, attention_mask=None, past_key_values=None, use_cache=None):
        return {"past_key_values": "old-cache"}


class NewStyle(torch.nn.Module):  # transformers 5.x: cache (past_key_values deprecated, removed in 5.40)
    def forward(self, input_ids, attention_mask=None, cache=None, use_cache=None, **kwargs):
        return {"cache": "new-cache"}


class PeftLike(torch.nn.Module):  # a wrapper whose forward takes **kwargs and passes them on
    def __init__(self, base):
        super().__init__()
        self.base = base

    def get_base_model(self):
        return self.base

    def forward(self, *args, **kwargs):
        return self.base(*args, **kwargs)


def test_cache_keyword_follows_the_model_signature():
    assert cache_kwarg(OldStyle()) == "past_key_values"
    assert cache_kwarg(NewStyle()) == "cache"
    assert cache_kwarg(PeftLike(NewStyle())) == "cache"
    assert cache_kwarg(PeftLike(OldStyle())) == "past_key_values"


def test_output_cache_reads_either_name_and_refuses_none():
    assert output_cache(NewStyle()(None)) == "new-cache"
    assert output_cache(OldStyle()(None)) == "old-cache"
    with pytest.raises(ValueError, match="no KV cache"):
        output_cache({"logits": 1})


def test_tiny_llama_uses_the_installed_name():
    import inspect

    from instructrl.models import build_tiny

    model, _ = build_tiny("tiny")
    params = inspect.signature(type(model).forward).parameters
    assert cache_kwarg(model) == ("cache" if "cache" in params else "past_key_values")
    out = model(input_ids=torch.tensor([[5, 6, 7]]), use_cache=True)
    assert output_cache(out) is not None
