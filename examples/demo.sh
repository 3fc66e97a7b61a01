#!/usr/bin/env bash
# examples/demo.sh [BUILD_DIR]: foundry's demo, a few minutes on 2 cores.
#  1. pretrains a small BERT with masked-language modelling on the unlabelled e-mail texts of the
#     spam/ham training split (a WordPiece vocabulary is trained first);
#  2. fine-tunes a spam/ham classifier on only a few hundred labelled e-mails, twice: from the
#     pretrained weights and from scratch (same architecture, vocabulary, steps and data);
#  3. prints masked-token accuracy before/after pretraining and test accuracy / F1 of both classifiers.
# The test set (spam_dev.tsv) is never seen by either stage. Outputs go to $DEMO_OUT (runs/demo).
# Data: ../shared/data beside the repository, or $FOUNDRY_DATA, or fetched by examples/fetch_data.sh.
# Knobs (environment): DEMO_STEPS, DEMO_LABELS, DEMO_THREADS.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$repo/build}"
out="${DEMO_OUT:-$repo/runs/demo}"
steps="${DEMO_STEPS:-400}"
labels="${DEMO_LABELS:-200}"
threads="${DEMO_THREADS:-$(nproc)}"

data="${FOUNDRY_DATA:-$repo/../shared/data}"
if [[ ! -f "$data/classify/spam_train.tsv" ]]; then
  data="$("$repo/examples/fetch_data.sh")" || exit 1
fi
for tool in mlm_pretrain finetune_classifier; do
  if [[ ! -x "$build/examples/$tool" ]]; then
    echo "demo: $build/examples/$tool is missing; build it first: cmake --build $build -j2 --target mlm_pretrain finetune_classifier" >&2
    exit 1
  fi
done
rm -rf "$out"
mkdir -p "$out"

echo "== 1/3: MLM pretraining on the unlabelled e-mail texts ($steps steps) =="
"$build/examples/mlm_pretrain" --corpus "$data/classify/spam_train.tsv" --out "$out/pretrained" \
  --vocab-size 4000 --hidden 128 --layers 2 --heads 2 --max-seq-length 128 --batch-size 16 \
  --steps "$steps" --lr 1e-3 --warmup-ratio 0.05 --eval-every 100 --heldout-fraction 0.05 \
  --threads "$threads" --seed 1 --log "$out/pretrain.jsonl"

common=(--train "$data/classify/spam_train.tsv" --dev-from-train 400 --test "$data/classify/spam_dev.tsv"
        --max-train-examples "$labels" --epochs 8 --batch-size 16 --max-length 128 --lr 5e-4 --threads "$threads" --seed 7)
echo
echo "== 2/3: fine-tuning on $labels labelled e-mails, from the pretrained model =="
"$build/examples/finetune_classifier" --model "$out/pretrained" "${common[@]}" --log "$out/finetune_pretrained.jsonl" \
  --save "$out/classifier"
echo
echo "== 3/3: the same fine-tuning from scratch =="
"$build/examples/finetune_classifier" --model "$out/pretrained" --from-scratch "${common[@]}" --log "$out/finetune_scratch.jsonl"

echo
python3 - "$out" "$labels" <<'EOF'
import json, sys
out, labels = sys.argv[1], sys.argv[2]
def last(path):
    with open(path) as f:
        return json.loads(f.read().splitlines()[-1])
pre = last(f"{out}/pretrain.jsonl")
a, b = last(f"{out}/finetune_pretrained.jsonl"), last(f"{out}/finetune_scratch.jsonl")
print("== demo summary ==")
print(f"masked-token accuracy on held-out e-mails: {pre['initial_masked_accuracy']:.3f} before, "
      f"{pre['eval_masked_accuracy']:.3f} after {pre['steps']} pretraining steps ({pre['seconds']:.0f} s)")
print(f"spam/ham test set ({a['test']['per_class']['ham']['support'] + a['test']['per_class']['spam']['support']} e-mails), "
      f"classifiers trained on {labels} labelled e-mails:")
print(f"  {'':<26}{'accuracy':>9}{'macro F1':>10}{'spam F1':>9}{'seconds':>9}")
for name, r in (("fine-tuned (pretrained)", a), ("from scratch", b)):
    print(f"  {name:<26}{r['test_accuracy']:>9.4f}{r['test_macro_f1']:>10.4f}{r['test']['per_class']['spam']['f1']:>9.4f}{r['seconds']:>9.0f}")
EOF
