import json, re
for l in open('/tmp/rmscale/ppo_results.txt'):
    i=l.index('RESULT'); head=l[:i]
    m=re.match(r'RESULT (\S+) (.*?) (\{"sft".*)$', l[i:].strip())
    d=json.loads(m.group(3)); p=d['ppo']; w=p['win_rate']
    print(m.group(1), m.group(2), head.strip(), 'win %.3f (%.3f-%.3f)'%(w['win_rate'],w['ci_low'],w['ci_high']), 'likert %.2f fail %.2f cons %.3f hall %.3f kl %.1f rmacc %.2f ptx %+.3f'%(p['likert'],p['fails_to_follow'],p['constraint_satisfied'],p['hallucination'],p['kl_to_sft'],p['rm_accuracy'],p['heldout_ptx_loss_vs_sft']))
