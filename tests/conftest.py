import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a hub
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def write_demos(path: Path, n: int = 40, seed: int = 0) -> Path:
    """A small demonstration file: 'Write k words about X.' -> k words."""
    import random

    rng = random.Random(seed)
    words = "apple river stone cloud music garden light paper window bread".split()
    with open(path, "w") as f:
        for i in range(n):
            k = i % 5 + 1
            topic = rng.choice(words)
            row = {
                "prompt": {"id": f"p{i}", "text": f"Write {k} words about {topic}.", "user_id": f"u{i % 7}"},
                "response": " ".join(rng.choice(words) for _ in range(k)),
                "labeler_id": "L1",
            }
            f.write(json.dumps(row) + "\n")
    return path


@pytest.fixture
def demos_file(tmp_path: Path) -> Path:
    return write_demos(tmp_path / "demos.jsonl")


@pytest.fixture(scope="session")
def tiny():
    from instructrl.models import load_causal_lm

    return load_causal_lm("tiny")
