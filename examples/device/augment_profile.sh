# Device call: one 48-episode augment run under py-spy (every process), for benchmarks/pyspy_phases.py.
# carry: .carry/whl (with py-spy) .carry/site .carry/src
pip install -q --no-deps --no-index --target /tmp/site .carry/whl/*.whl 2>&1 | grep -v WARNING | tail -2
export PYTHONPATH=.:.carry/site:/tmp/site HF_HUB_OFFLINE=1
timeout 300 /tmp/site/bin/py-spy record --subprocesses --idle --format raw --rate 50 -o $OUT/aug_pyspy.txt -- \
  python3 benchmarks/augment_throughput.py --input .carry/src --device cuda --workers 16 --compression lzf \
  --repeat-episodes 48 2>&1 | tail -3
gzip $OUT/aug_pyspy.txt
