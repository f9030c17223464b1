"""Closed-domain answers of the seed-0 runs' SFT policies: how often the passage's person is
named, and how often some other person or job is. Usage: python names.py RUN_WITHOUT RUN_WITH
(run directories, e.g. /tmp/def1/default /tmp/rc0/default)."""
import json
import re
import sys
from pathlib import Path

from instructrl.tasks.world import JOBS, PEOPLE  # the prompts' world: every person and job a passage can name


def stats(run: Path, policy: str = "sft", k: int = 1) -> dict:
    prompts = {}
    for f in ("test.jsonl", "test-closed.jsonl"):
        for line in (run / "data" / f).open():
            r = json.loads(line)
            if r["metadata"]["spec"]["closed_domain"]:
                prompts[r["id"]] = r
    resp = {}
    for f in (f"responses-{policy}.jsonl", f"responses-{policy}-closed.jsonl"):
        for line in (run / f"round-{k}" / "eval" / f).open():
            r = json.loads(line)
            resp[r["prompt_id"]] = r["response"]
    n = right = wrong_person = wrong_job = 0
    for pid, p in prompts.items():
        if pid not in resp:
            continue
        text = p["text"]
        m = re.search(r"(\w+) (?:is an?|works as an?) (\w+) in", text)
        if not m:
            continue
        person = m.group(1)
        said = set(re.findall(r"[A-Za-z]+", resp[pid]))
        lower = {w.lower() for w in said}
        n += 1
        right += person in said or person.lower() in lower
        wrong_person += any(x.lower() in lower and x not in text for x in PEOPLE)
        wrong_job += any(j in lower and j not in text for j in JOBS)
    return {"n": n, "names the person": round(right / n, 3), "names a person not in the prompt": round(wrong_person / n, 3),
            "names a job not in the prompt": round(wrong_job / n, 3)}


for arg in sys.argv[1:]:
    print(arg, "SFT", stats(Path(arg)))
    print(arg, "round-2 PPO", stats(Path(arg), "ppo", 2))
