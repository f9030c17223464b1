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


HUB_REPO = "instructrl-test/tiny-lm"
HUB_REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch):
    """A Hugging Face hub cache of the test's own, used by this process (``HF_HUB_OFFLINE=1``:
    nothing is fetched) and named in ``HF_HUB_CACHE`` for its subprocesses. The fixture is
    ``put(model, tok, repo, revision) -> snapshot dir``: the repo laid out as the hub client
    writes it (a snapshot per revision, ``refs/main`` naming the newest), so that a hub id
    resolves exactly as a downloaded one does."""
    import huggingface_hub.constants

    cache = tmp_path / "hub"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))

    def put(model, tok, repo: str = HUB_REPO, revision: str = HUB_REVISION) -> Path:
        folder = cache / ("models--" + repo.replace("/", "--"))
        snap = folder / "snapshots" / revision
        model.save_pretrained(snap)
        tok.save_pretrained(snap)
        (folder / "refs").mkdir(parents=True, exist_ok=True)
        (folder / "refs" / "main").write_text(revision)
        return snap

    return put


@pytest.fixture
def demos_file(tmp_path: Path) -> Path:
    return write_demos(tmp_path / "demos.jsonl")


@pytest.fixture(scope="session")
def tiny():
    from instructrl.models import load_causal_lm

    return load_causal_lm("tiny")
