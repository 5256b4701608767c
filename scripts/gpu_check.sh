#!/usr/bin/env bash
# GPU check: the default experiment (FOMAML on WordNet, MiniLM-L6, configs/experiment/fomaml_wordnet.yaml)
# for a few hundred meta-steps in bf16-mixed on one CUDA GPU, then a short CPU run of the same
# experiment; prints meta-training tasks/s side by side. Exits 0 with a message when there is
# no CUDA device (the CPU path is the tested one: `make test`).
#
#   scripts/gpu_check.sh [GPU_STEPS=300] [CPU_STEPS=10]
#   env: PYTHON (default .venv/bin/python), OUT_DIR (default runs/gpu_check),
#        GPU_CHECK_DDP=1 to add a MetaDDPStrategy run over every visible GPU when there are >= 2.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-.venv/bin/python}
GPU_STEPS=${1:-300}
CPU_STEPS=${2:-10}
EXPERIMENT=configs/experiment/fomaml_wordnet.yaml
OUT=${OUT_DIR:-runs/gpu_check}
export WANDB_MODE=${WANDB_MODE:-offline} TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1

if [[ ! -x $PY ]]; then
  echo "gpu_check: $PY not found; run 'make install' first" >&2
  exit 2
fi
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "gpu_check: no CUDA device visible to torch $("$PY" -c 'import torch; print(torch.__version__)'); nothing to measure (CPU-only machine)"
  exit 0
fi
if [[ ! -f /usr/share/wordnet/data.noun ]]; then
  echo "gpu_check: WordNet corpus missing; run 'make install' (apt-get install wordnet-base as root)" >&2
  exit 2
fi

PRECISION=bf16-mixed
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_bf16_supported() else 1)'; then
  PRECISION=16-mixed
  echo "gpu_check: this GPU has no bfloat16; using 16-mixed"
fi
"$PY" - <<'EOF'
import torch
p = torch.cuda.get_device_properties(0)
print(f"gpu_check: torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} x {p.name} ({p.total_memory / 2**30:.0f} GiB)")
EOF

mkdir -p "$OUT"

# measure NAME ACCELERATOR PRECISION STEPS [extra CLI args...]: fit without validation or
# checkpoints, CSV metrics to $OUT/NAME/run; prints "median_tasks_per_s wall_seconds"
measure() {
  local name=$1 accelerator=$2 precision=$3 steps=$4
  shift 4
  local dir=$OUT/$name
  rm -rf "$dir"
  mkdir -p "$dir"
  cat >"$dir/override.yaml" <<EOF
trainer:
  accelerator: $accelerator
  precision: $precision
  max_steps: $steps
  max_epochs: 100000
  limit_val_batches: 0
  num_sanity_val_steps: 0
  enable_checkpointing: false
  enable_progress_bar: false
  log_every_n_steps: 1
  callbacks: []
  logger:
    - class_path: pytorch_lightning.loggers.CSVLogger
      init_args: {save_dir: $dir, name: csv, version: run}
EOF
  local start end
  start=$(date +%s.%N)
  "$PY" -m lightning_meta.cli fit --config "$EXPERIMENT" --config "$dir/override.yaml" "$@" \
    >"$dir/stdout.log" 2>&1 || {
    echo "gpu_check: $name run failed; last lines of $dir/stdout.log:" >&2
    tail -n 20 "$dir/stdout.log" >&2
    return 1
  }
  end=$(date +%s.%N)
  "$PY" - "$dir/csv/run/metrics.csv" "$start" "$end" <<'EOF'
import csv, os, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]))) if os.path.exists(sys.argv[1]) else []
values = [float(r["train/tasks_per_s"]) for r in rows if r.get("train/tasks_per_s")]
values = values[len(values) // 5:] or values  # drop the warm-up fifth
median = statistics.median(values) if values else float("nan")
print(f"{median:.2f} {float(sys.argv[3]) - float(sys.argv[2]):.0f}")
EOF
}

echo "gpu_check: GPU run, $GPU_STEPS meta-steps, $PRECISION (log: $OUT/gpu/stdout.log)"
result=$(measure gpu gpu "$PRECISION" "$GPU_STEPS" --trainer.devices 1)
read -r gpu_tps gpu_wall <<<"$result"
echo "gpu_check: CPU run, $CPU_STEPS meta-steps, 32-true (log: $OUT/cpu/stdout.log)"
result=$(measure cpu cpu 32-true "$CPU_STEPS" --trainer.devices 1)
read -r cpu_tps cpu_wall <<<"$result"

ddp_line=""
n_gpus=$("$PY" -c 'import torch; print(torch.cuda.device_count())')
if [[ ${GPU_CHECK_DDP:-0} == 1 && $n_gpus -ge 2 ]]; then
  echo "gpu_check: MetaDDPStrategy run on $n_gpus GPUs (meta_batch_size $((4 * n_gpus)))"
  result=$(measure ddp gpu "$PRECISION" "$GPU_STEPS" \
    --config configs/trainer/ddp.yaml --trainer.devices "$n_gpus" --trainer.precision "$PRECISION" \
    --data.init_args.stream.meta_batch_size $((4 * n_gpus)) \
    --data.init_args.stream.train_episodes $((400 * n_gpus)))
  read -r ddp_tps ddp_wall <<<"$result"
  ddp_line=$(printf '%-22s %-11s %6s %10s %8s' "gpu x$n_gpus (meta_ddp)" "$PRECISION" "$GPU_STEPS" "$ddp_tps" "$ddp_wall")
fi

echo
echo "gpu_check: meta-training speed, $EXPERIMENT (4 tasks/meta-step, median after warm-up)"
printf '%-22s %-11s %6s %10s %8s\n' device precision steps "tasks/s" "wall s"
printf '%-22s %-11s %6s %10s %8s\n' "gpu" "$PRECISION" "$GPU_STEPS" "$gpu_tps" "$gpu_wall"
printf '%-22s %-11s %6s %10s %8s\n' "cpu ($(nproc) cores)" "32-true" "$CPU_STEPS" "$cpu_tps" "$cpu_wall"
if [[ -n $ddp_line ]]; then echo "$ddp_line"; fi
"$PY" -c "import sys; g, c = float(sys.argv[1]), float(sys.argv[2]); print(f'gpu_check: GPU/CPU tasks/s ratio {g / c:.1f}x')" "$gpu_tps" "$cpu_tps"
