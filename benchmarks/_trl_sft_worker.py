"""TRL side of benchmarks/sft.py; runs inside the trl==1.12.0 virtualenv."""

import json
import resource
import sys
import time

import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import SFTConfig, SFTTrainer

args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
tok = AutoTokenizer.from_pretrained(args["model"])
model = AutoModelForCausalLM.from_pretrained(args["model"], dtype=torch.float32)
rows = [json.loads(l) for l in open(args["data"])]
# Same rendering as instructrl: the chat template's generation prompt, then the response + EOS.
prompts = [tok.apply_chat_template([{"role": "user", "content": r["prompt"]["text"]}], add_generation_prompt=True, tokenize=False) for r in rows]
ds = Dataset.from_dict({"prompt": prompts, "completion": [r["response"] + tok.eos_token for r in rows]})

counts = {"tokens": []}


class Timer(TrainerCallback):
    def __init__(self):
        self.t = None
        self.times = []

    def on_step_begin(self, a, s, c, **kw):
        self.t = time.perf_counter()

    def on_step_end(self, a, s, c, **kw):
        self.times.append(time.perf_counter() - self.t)


cfg = SFTConfig(
    output_dir=args["out"],
    per_device_train_batch_size=args["batch"],
    gradient_accumulation_steps=1,
    max_steps=args["steps"],
    learning_rate=args["lr"],
    lr_scheduler_type="cosine",
    max_length=512,
    completion_only_loss=True,
    bf16=False,
    fp16=False,
    use_cpu=True,
    logging_steps=1,
    save_strategy="no",
    report_to=[],
    dataloader_num_workers=0,
    seed=0,
    max_grad_norm=1.0,
    adam_beta2=0.95,
)
trainer = SFTTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok)
collate = trainer.data_collator


def counting_collator(features):
    batch = collate(features)
    mask = batch.get("attention_mask")
    counts["tokens"].append(int(mask.sum()) if mask is not None else int(batch["input_ids"].numel()))
    return batch


trainer.data_collator = counting_collator
timer = Timer()
trainer.add_callback(timer)
trainer.train()
w = args["warmup"]
trainer.save_model(args["out"] + "/final")
tok.save_pretrained(args["out"] + "/final")
losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
print("RESULT " + json.dumps({
    "tokens": sum(counts["tokens"][w : w + len(timer.times) - w]),
    "seconds": sum(timer.times[w:]),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "final": args["out"] + "/final",
    "losses": losses,
}))
