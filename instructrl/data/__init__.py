"""Records of the labeling protocol, their IO, prompt rendering and batching."""

from .io import Loaded, load_hf_dataset, parse_rows, read_jsonl, write_jsonl
from .schemas import (
    CATEGORIES,
    RATING_FLAG_HELP,
    RATING_FLAGS,
    DataError,
    Demonstration,
    Message,
    Prompt,
    Ranking,
    Rating,
    stable_id,
)

__all__ = [
    "CATEGORIES",
    "RATING_FLAGS",
    "RATING_FLAG_HELP",
    "DataError",
    "Demonstration",
    "Loaded",
    "Message",
    "Prompt",
    "Ranking",
    "Rating",
    "load_hf_dataset",
    "parse_rows",
    "read_jsonl",
    "stable_id",
    "write_jsonl",
]
