import json, sys
for line in open(sys.argv[1] if len(sys.argv) > 1 else "/tmp/px/results.txt"):
    if "RESULT" not in line: continue
    secs = line.split()[2]
    _, rest = line.split("RESULT ", 1)
    tag, src, rest = rest.split(" ", 2)
    dec = json.JSONDecoder(); extra, i = dec.raw_decode(rest); pol, _ = dec.raw_decode(rest[i:].strip())
    p, s = pol["ppo"], pol["sft"]
    print(f"{tag:10s} {src:12s} {json.dumps(extra):32s} ppo_s {secs:>4s} win {p['win_rate']['win_rate']:.3f} ({p['win_rate']['ci_low']:.3f}-{p['win_rate']['ci_high']:.3f}) "
          f"likert {p['likert']:.2f} fails {p['fails_to_follow']:.3f} constr {s['constraint_satisfied']:.3f}->{p['constraint_satisfied']:.3f} "
          f"halluc {s['hallucination']:.3f}->{p['hallucination']:.3f} kl {p['kl_to_sft']:.2f} ptx {100*p['heldout_ptx_loss_vs_sft']:+.1f}%")
