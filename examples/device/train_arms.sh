# Device call, after the pieces are in /tmp/pk: unpack and train one policy per arm, in parallel.
# carry: .carry/pk (the last piece) and .carry/<RUNS_PREFIX>_<arm>.json; usage: bash examples/device/train_arms.sh runs
prefix=${1:-runs}
mkdir -p /tmp/pk && cp .carry/pk/* /tmp/pk/
cat /tmp/pk/p_* > /tmp/pack.tar && mkdir -p /tmp/pack && tar -xf /tmp/pack.tar -C /tmp/pack && rm /tmp/pack.tar
export PYTHONPATH=.
mkdir -p $OUT/arms
for runs in .carry/${prefix}_*.json; do
  arm=$(basename $runs .json); arm=${arm#${prefix}_}
  nohup python3 -m embodied_rerender.bench.train_packs /tmp/pack $OUT/arms $runs > $OUT/train_$arm.log 2>&1 &
done
wait
tail -n 2 $OUT/train_*.log
cd $OUT && tar -czf arms.tgz arms train_*.log && rm -rf arms
