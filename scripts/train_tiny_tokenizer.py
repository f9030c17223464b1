"""Train the byte-level BPE tokenizer shipped for the `tiny` model (run once; output committed)."""
import gzip, json, csv, glob
from tokenizers import Tokenizer, models, trainers, pre_tokenizers, decoders, processors
texts = []
S = "/work/shared/datasets"
for line in open(f"{S}/self-instruct/user_oriented_instructions.jsonl"):
    d = json.loads(line); texts.append(d.get("instruction","")); 
    for inst in d.get("instances", []): texts.append(inst.get("input","")); texts.append(inst.get("output",""))
for line in open(f"{S}/self-instruct/seed_tasks.jsonl"):
    d = json.loads(line); texts.append(d.get("instruction",""))
    for inst in d.get("instances", []): texts.append(inst.get("input","")); texts.append(inst.get("output",""))
for r in csv.DictReader(open(f"{S}/truthfulqa/TruthfulQA.csv")):
    texts += [r["Question"], r["Best Answer"], r["Correct Answers"], r["Incorrect Answers"]]
for f in glob.glob(f"{S}/hh-rlhf/*/test.jsonl.gz"):
    for line in gzip.open(f, "rt"):
        d = json.loads(line); texts.append(d["chosen"])
print(len(texts), sum(len(t) for t in texts))
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
tr = trainers.BpeTrainer(vocab_size=4096, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2)
tok.train_from_iterator(texts, tr)
tok.post_processor = processors.ByteLevel(trim_offsets=False)
tok.save("/work/main/instructrl/models/assets/tiny_tokenizer.json")
print(tok.get_vocab_size())
