# Device call: augment throughput at the defaults, three times, plus the run without the quality options.
# carry: .carry/whl .carry/site .carry/src
set -x
pip install -q --no-deps --no-index --target /tmp/site .carry/whl/*.whl 2>&1 | grep -v WARNING | tail -2
export PYTHONPATH=.:.carry/site:/tmp/site HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name --format=csv,noheader; nproc
B="python3 benchmarks/augment_throughput.py --input .carry/src --device cuda --workers 16 --compression lzf --repeat-episodes 128"
(nvidia-smi dmon -s u -d 1 > $OUT/gpu_util.txt 2>&1 &)
$B 2>&1 | tee $OUT/aug_defaults_1.jsonl | tail -1
pkill -f "nvidia-smi dmon"
$B 2>&1 | tee $OUT/aug_defaults_2.jsonl | tail -1
$B 2>&1 | tee $OUT/aug_defaults_3.jsonl | tail -1
$B --warp static_memory=0 self_parts=null 2>&1 | tee $OUT/aug_fast.jsonl | tail -1
