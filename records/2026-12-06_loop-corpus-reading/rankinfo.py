"""What the training panel's rankings teach: over each strict pair of a round's rankings, how often
the gold grader orders it the same way, split by what differs (task done; constraints with the
task equal; hallucination). Pure Python. Usage: python rankinfo.py RUN_DIR [RUN_DIR...]."""
import json, itertools, collections, sys
from instructrl.data.schemas import Prompt
from instructrl.tasks import grade
for run in sys.argv[1:]:
  for k in (1,2):
    tot=0; c=collections.Counter()
    for line in open(f'{run}/round-{k}/data/rankings.jsonl'):
        r=json.loads(line)
        p=Prompt.from_dict(r['prompt'])
        gs=[grade(p,x) for x in r['responses']]
        for i,j in itertools.combinations(range(len(gs)),2):
            if r['ranks'][i]==r['ranks'][j]: c['tie']+=1; continue
            tot+=1
            b,w=(i,j) if r['ranks'][i]<r['ranks'][j] else (j,i)
            gb,gw=gs[b],gs[w]
            if gb.quality!=gw.quality: c['gold_differs']+=1; c['gold_agrees']+= gb.quality>gw.quality
            if gb.task_done==gw.task_done and gb.constraint_fraction!=gw.constraint_fraction:
                c['cons_only']+=1; c['cons_only_agree']+= gb.constraint_fraction>gw.constraint_fraction
            if gb.task_done!=gw.task_done: c['task']+=1; c['task_agree']+= gb.task_done
            if gb.hallucination!=gw.hallucination: c['hall']+=1; c['hall_agree']+= not gb.hallucination
    f=lambda a,b: f"{c[a]} ({c[b]/max(1,c[a]):.2f} agree)"
    print(run,k,'strict pairs',tot,'ties',c['tie'],'| gold differs',f('gold_differs','gold_agrees'),'| same task_done, constraints differ',f('cons_only','cons_only_agree'),'| task differs',f('task','task_agree'),'| halluc differs',f('hall','hall_agree'))
