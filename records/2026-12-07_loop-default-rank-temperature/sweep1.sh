cd /work/main
S=/work/bench/defFE/default; O=/work/bench/rt/g
run() { OMP_NUM_THREADS=2 .venv/bin/python /work/bench/rt/gppo.py $S $O "$1" "$2" > /work/bench/rt/log_$1.txt 2>&1; grep RESULT /work/bench/rt/log_$1.txt >> /work/bench/rt/sweep1.txt; }
run gold '{"reward":{"kind":"task"}}'
run goldT07 '{"reward":{"kind":"task"},"temperature":0.7}'
run goldT07x3np '{"reward":{"kind":"task"},"temperature":0.7,"episodes":4608,"ptx":{"coef":0.0}}'
run goldT07b02 '{"reward":{"kind":"task"},"temperature":0.7,"kl":{"coef":0.02},"ptx":{"coef":0.0}}'
run goldT05x3e4 '{"reward":{"kind":"task"},"temperature":0.5,"episodes":4608,"ptx":{"coef":0.0},"ppo":{"epochs":4}}'
