#!/bin/bash
# quick-scale run of the structured beamformer with the max-min power layer (resumable)
cd /work/wt/mumiso
export PATH=/work/main/.venv/bin:$PATH PYTHONPATH=$PWD NUMBA_CACHE_DIR=/work/main/.numba_cache OPENBLAS_NUM_THREADS=1
exec nice -n 10 wirelessrl reproduce mu-miso --scale quick -o runs/mu-miso-maxmin --threads 1 \
  model.family=structured model.structured.width=64 model.structured.layers=3 \
  'model.structured.message_widths=[64]' model.structured.minrate_power=maxmin \
  source.epochs=40 source.patience=40 \
  target.epochs=1500 target.patience=400 target.validate_every=5 target.lr=1e-3 \
  tuning.enabled=true 'tuning.lrs=[1.0e-3,3.0e-3]' --seeds 1,2,3
