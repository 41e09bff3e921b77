#!/bin/bash
# Run on the GPU machine from the repository root with the packed shards in .carry/train and .carry/eval
# (made by the commands in docs/results.md), e.g. `TL=400 EVAL_TL=120 bash examples/train_reference_gpu.sh`.
# One device command: train hybrid and learned side by side (time-limited), export, then score held-out episodes.
export PYTHONPATH=. PYTHONUNBUFFERED=1
TL=${TL:-350}
nvidia-smi -L
W=/tmp/work; mkdir -p $W
common="data=.carry/train init=none batch_size=16 time_limit_s=$TL stage_steps=[400,300,200,100] self_cond_steps=100 save_every=400 log_every=20"
python3 -m embodied_rerender.train $common output=$W/hybrid mode=hybrid > $W/hybrid.log 2>&1 &
P1=$!
python3 -m embodied_rerender.train $common output=$W/learned mode=learned seed=1 > $W/learned.log 2>&1 &
P2=$!
wait $P1; wait $P2
tail -n 3 $W/hybrid.log $W/learned.log
cd $W && split -b 15M -d hybrid/model.safetensors $OUT/hybrid.st.part && split -b 15M -d learned/model.safetensors $OUT/learned.st.part; cd -
timeout ${EVAL_TL:-150} python3 -m embodied_rerender.cli eval table=heldout input=.carry/eval hybrid=$W/hybrid/model.safetensors learned=$W/learned/model.safetensors device=cuda output=$W/eval_out > $W/eval.log 2>&1
echo "eval rc $?"; cp $W/eval_out/eval.json $W/eval.json 2>/dev/null; cat $W/eval.log | tail -25
tar cf $OUT/results.tar -C $W hybrid.log learned.log eval.log eval.json hybrid/loss.csv learned/loss.csv hybrid/model.json learned/model.json hybrid/samples_final.png learned/samples_final.png hybrid/summary.json learned/summary.json 2>&1
ls -la $OUT
