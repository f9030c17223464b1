import json
import random
from pathlib import Path

import pytest

WORDS = "apple river stone cloud music garden light paper window bread".split()


def write_rankings(path: Path, n: int = 40, k: int = 4, seed: int = 0, categories: bool = True) -> Path:
    """'Say <topic> k times.' ranked by how many of the k words are the topic (ties allowed)."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            topic = rng.choice(WORDS)
            kk = k if k else rng.randint(2, 9)
            hits = [rng.randint(0, 3) for _ in range(kk)]
            responses = [" ".join([topic] * h + [rng.choice(WORDS) for _ in range(3 - h)]) or "none" for h in hits]
            ranks = [1 + sum(1 for o in hits if o > h) for h in hits]  # competition ranking, ties share
            if len(set(ranks)) == 1:
                ranks[0] = 1
                ranks[1:] = [2] * (kk - 1)
            prompt = {"id": f"p{i}", "text": f"Say {topic} three times. (#{i})"}
            if categories:
                prompt["category"] = "generation" if i % 2 else "rewrite"
            f.write(json.dumps({"prompt": prompt, "responses": responses, "ranks": ranks, "labeler_id": f"L{i % 3}"}) + "\n")
    return path


@pytest.fixture
def rankings_file(tmp_path: Path) -> Path:
    return write_rankings(tmp_path / "rankings.jsonl")
