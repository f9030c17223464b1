"""``python -m instructrl.tasks out_dir=data/tasks n=2000 seed=0``: write a generated dataset.

Writes, under ``out_dir``: ``{train,valid,test}.jsonl`` (prompts after the paper's processing),
``demonstrations.jsonl`` (the demonstrator's answers to the training prompts) and
``pretraining.txt`` (one document per paragraph block, separated by a blank line and ``---``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from instructrl.config import field


@dataclass(frozen=True)
class TasksConfig:
    out_dir: str = field("data/tasks", help="directory to write the dataset into")
    n: int = field(2000, help="number of prompts to generate (before dedup and per-user cap)")
    seed: int = field(0, help="seed of the generator, the processing and the corpus")
    n_users: int = field(100, help="number of simulated users sending prompts")
    difficulty: Literal["easy", "medium", "hard"] = field(
        "medium", help="constraint load, false premises, few-shot share (tasks.generator.DIFFICULTIES)")
    per_user_cap: int = field(200, help="at most this many prompts per user (paper: 200)")
    n_pretraining_docs: int = field(5000, help="documents in the pretraining corpus")
    corpus_reading: float = field(0.0, help="share of pretraining paragraphs that are reading documents (a passage, then text referring back to it)")
    corpus_case: float = field(0.0, help="share of pretraining documents written all in capitals or all in lower case")


def main(argv: list[str] | None = None) -> int:
    from instructrl.config import command_main
    from instructrl.data.io import write_jsonl, write_text_atomic
    from instructrl.data.schemas import Demonstration
    from instructrl.tasks import demonstrate, generate_pretraining_corpus, generate_prompts
    from instructrl.tasks.processing import process_prompts

    cfg, _ = command_main(TasksConfig, list(sys.argv[1:] if argv is None else argv), "python -m instructrl.tasks",
                          "Generate the prompt dataset, demonstrations and pretraining corpus.")
    out = Path(cfg.out_dir)
    prompts = generate_prompts(cfg.n, cfg.seed, n_users=cfg.n_users, difficulty=cfg.difficulty)
    train, valid, test = process_prompts(prompts, cap=cfg.per_user_cap, seed=cfg.seed)
    for name, split in (("train", train), ("valid", valid), ("test", test)):
        write_jsonl(out / f"{name}.jsonl", split)
    write_jsonl(out / "demonstrations.jsonl",
                [Demonstration(prompt=p, response=demonstrate(p, seed=cfg.seed), labeler_id="demonstrator")
                 for p in train])
    docs = generate_pretraining_corpus(cfg.n_pretraining_docs, cfg.seed, reading=cfg.corpus_reading, case=cfg.corpus_case)
    write_text_atomic(out / "pretraining.txt", "\n\n---\n\n".join(docs) + "\n")
    print(f"wrote {len(train)}/{len(valid)}/{len(test)} prompts (train/valid/test), {len(train)} demonstrations, "
          f"{len(docs)} pretraining documents to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
