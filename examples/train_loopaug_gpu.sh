#!/bin/bash
# LoopAug ablation (issue 6), one device command: train the hybrid generator twice side by side on one GPU,
# same seed and time limit, without and with LoopAug loop samples, then score both (and warp) on the held-out
# shards: PSNR/SSIM and view sync head -> wrist, loop closure on a head -> gripper -> head loop target.
# Run from the repository root with .carry/train, .carry/eval (docs/results.md) and .carry_loop/train_loops
# (docs/results.md, LoopAug) carried, e.g. `TL=240 EVAL_TL=150 bash examples/train_loopaug_gpu.sh`.
# CPU dry run: `DEVICE=cpu TL=5 EVAL_TL=600 FRAMES=8 STEPS=1 BS=2 OUT=/tmp/out bash examples/train_loopaug_gpu.sh`.
export PYTHONPATH=. PYTHONUNBUFFERED=1
TL=${TL:-240}                # training seconds per model (both run at once)
RATIO=${RATIO:-0.25}         # share of LoopAug samples in the LoopAug run
DEVICE=${DEVICE:-cuda}
BS=${BS:-16}
LOOPS=${LOOPS:-.carry_loop/train_loops}
W=${W:-/tmp/work_loop}; mkdir -p $W $OUT
nvidia-smi -L 2>/dev/null
extra=""; [ "$DEVICE" = cpu ] && extra="device=cpu amp=false model.dim=32 model.depth=1 model.heads=2 model.cam_dim=16 flow.steps=2 self_cond_sample_steps=1"
common="data=.carry/train init=none mode=hybrid seed=0 batch_size=$BS time_limit_s=$TL stage_steps=[400,300,200,100] self_cond_steps=100 save_every=400 log_every=20 $extra"
python3 -m embodied_rerender.train $common output=$W/base > $W/base.log 2>&1 &
P1=$!
python3 -m embodied_rerender.train $common output=$W/loopaug loop_data=$LOOPS loop_ratio=$RATIO > $W/loopaug.log 2>&1 &
P2=$!
wait $P1; R1=$?; wait $P2; R2=$?
echo "train rc base $R1 loopaug $R2"; tail -n 3 $W/base.log $W/loopaug.log
ev="table=heldout input=.carry/eval hybrid=$W/base/model.safetensors hybrid_loop=$W/loopaug/model.safetensors settings=ablation loop=head_gripper_head device=$DEVICE output=$W/eval_out"
[ -n "$FRAMES" ] && ev="$ev frames=$FRAMES"
[ -n "$STEPS" ] && ev="$ev steps=$STEPS"
timeout ${EVAL_TL:-150} python3 -m embodied_rerender.cli eval $ev > $W/eval.log 2>&1
echo "eval rc $?"; cp $W/eval_out/eval.json $W/eval.json 2>/dev/null; tail -n 25 $W/eval.log
cp $W/eval.json $W/base.log $W/loopaug.log $W/eval.log $OUT/ 2>/dev/null
tar cf $OUT/results.tar -C $W base.log loopaug.log eval.log eval.json base/loss.csv loopaug/loss.csv base/summary.json \
    loopaug/summary.json base/model.json loopaug/model.json base/samples_final.png loopaug/samples_final.png 2>&1
ls -la $OUT
