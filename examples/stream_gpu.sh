#!/bin/bash
# Issue 7 in one device command (about 7 minutes on one H100; under 9 with every stage at its timeout): distil the
# streaming student from weights/hybrid_ref on the packed shards, score it on the held-out eval shards (against the
# teacher, the warp and ground truth; window 1 and 4), and benchmark streaming speed at 256x256 and 480x640.
# Run from the repository root with .carry/train and .carry/eval carried (docs/results.md makes them):
#   bash examples/stream_gpu.sh          (TL = distillation seconds, default 250; EVAL_TL 70 x 2, BENCH_TL 120)
# Everything lands in $OUT: student.st.partNN (bf16 weights split in 15 MB parts: cat student.st.part* >
# student.safetensors), student.json, loss.csv, summary.json, quality_w1.json, quality_w4.json, bench.jsonl and the logs.
# CPU smoke check of the same script (a tiny teacher, a few seconds per stage):
#   DEVICE=cpu TL=5 BS=1 EVAL_FRAMES=4 BENCH_ARGS=--tiny TEACHER=tiny.safetensors OUT=/tmp/o bash examples/stream_gpu.sh
export PYTHONPATH=. PYTHONUNBUFFERED=1
TL=${TL:-250}; BS=${BS:-16}; STEPS=${STEPS:-4}; CLIP=${CLIP:-16}; DEVICE=${DEVICE:-cuda}
DATA=${DATA:-.carry/train}; EVAL=${EVAL:-.carry/eval}; OUT=${OUT:?set OUT}; TEACHER=${TEACHER:-weights/hybrid_ref.safetensors}
W=${WORK:-/tmp/stream_work}; rm -rf $W; mkdir -p $W $OUT
[ "$DEVICE" = cuda ] && nvidia-smi -L
python3 -c "import torch; print('torch', torch.__version__)"

python3 -m embodied_rerender.train.distill data=$DATA output=$W/student teacher=$TEACHER \
    time_limit_s=$TL total_steps=0 batch_size=$BS steps=$STEPS clip=$CLIP log_every=20 save_every=0 device=$DEVICE > $W/distill.log 2>&1
echo "distill rc $?"; tail -n 5 $W/distill.log
CKPT=$W/student/student.safetensors

FRAMES_ARG=""; [ -n "$EVAL_FRAMES" ] && FRAMES_ARG="frames=$EVAL_FRAMES"
for WIN in 1 4; do
  timeout ${EVAL_TL:-70} python3 -m embodied_rerender.cli eval table=stream input=$EVAL student=$CKPT \
      teacher=$TEACHER device=$DEVICE window=$WIN $FRAMES_ARG output=$W/quality_w$WIN > $W/quality_w$WIN.log 2>&1
  echo "quality window=$WIN rc $?"; cp $W/quality_w$WIN/eval.json $W/quality_w$WIN.json 2>/dev/null; tail -n 45 $W/quality_w$WIN.log
  [ -n "$EVAL_FRAMES" ] && break  # smoke check: one window is enough
done

timeout ${BENCH_TL:-120} python3 benchmarks/stream.py --device $DEVICE --checkpoint $CKPT --out $W/bench.jsonl $BENCH_ARGS > $W/bench.log 2>&1
echo "bench rc $?"; cat $W/bench.log | cut -c1-600

cd $W/student && split -b 15M -d student.safetensors $OUT/student.st.part; cd - > /dev/null
cp $W/student/student.json $W/student/loss.csv $W/student/summary.json $W/*.log $OUT/ 2>/dev/null
cp $W/quality_w*.json $W/bench.jsonl $OUT/ 2>/dev/null
ls -la $OUT
