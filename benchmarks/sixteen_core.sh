#!/usr/bin/env bash
# The 16-core results in ONE run of at most 9 minutes on a borrowed many-core
# GPU host, install included (the README's results section, next to the
# original study). Every sweep goes through the package's own CLIs.
#
#   bash benchmarks/sixteen_core.sh run|check OUT_DIR [PYTHON]
#
#   run     on the 16-core host, in this order, each step only while the
#           budget lasts:
#           1. runners_only at 1, 2, 4, 8, 16 runners with --ceiling, +-5 %
#              precision capped at 6 iterations (16 runners need 17 CPUs:
#              --num-cpus 17, and the report judges that config against the
#              16 real cores); no drift check (a 1-runner iteration is ~25 s).
#           2. throughput at 8 and 15 runners x 1 and 4 envs per runner,
#              raced (--goal fastest) against the ceiling.
#           3. gpu_learner at 8 runners (CPU learner, then GPU learner).
#   check   the same three steps on the smoke space, on any machine (2 cores
#           do): rehearses the budget, the time boxes, the analysis of a
#           stopped sweep and the packing.
#
# BUDGET_S (default 480 for run, 240 for check) is the script's own time;
# the device call's 540 s timeout leaves the rest for the wheel install and
# the copy back. Each sweep gets a time box within what is left; a sweep
# still running at its end is stopped as Ctrl-C stops it (resumable) and
# analysed as far as it got, so the run always comes back with what it
# measured. Estimated from a probe on a 16-core host (1r x 1e 24.7 s per
# iteration, 8r x 1e 4.7 s, 16r x 1e 2.5 s; batch 16384): step 1 takes
# about 4 to 6 minutes.
#
# OUT_DIR receives sixteen_core.log and sixteen_core.tar.gz, which holds
# benchmarks/results/<space>_16core/ (manifest and analysis/): unpack it in
# the repository root with `tar xzf sixteen_core.tar.gz`.
set -uo pipefail
mode=${1:?usage: sixteen_core.sh run|check OUT_DIR [PYTHON]}
out=$(realpath -m "${2:?usage: sixteen_core.sh run|check OUT_DIR [PYTHON]}")
py=${3:-python3}
case $mode in
  run) budget=${BUDGET_S:-480} ;;
  check) budget=${BUDGET_S:-240} ;;
  *) echo "unknown mode $mode: run or check" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
stage=$work/stage/benchmarks/results
mkdir -p "$out" "$stage"
exec > >(tee -a "$out/sixteen_core.log") 2>&1
cd "$root"
start=$SECONDS
precise=(--precision 0.05 --iterations 6)

say() { echo "[sixteen_core +$((SECONDS - start))s] $*"; }
left() { echo $((budget - (SECONDS - start))); }

# sweep NAME BOX_S ARGS...: one sweep into $work/ray/NAME, stopped with SIGINT after BOX_S seconds (at most what
# the budget leaves, less 20 s to analyse and pack), analysed even when stopped, copied to the stage.
sweep() {
  local name=$1 box=$2
  shift 2
  local most=$(($(left) - 20))
  ((box > most)) && box=$most
  if ((box < 45)); then
    say "skip $name: ${box} s left in the budget"
    return
  fi
  say "sweep $name (time box ${box} s): $*"
  timeout -s INT -k 15 "$box" "$py" -m parallel_tune.sweep "$@" --storage-path "$work/ray" --name "$name"
  say "sweep $name ended with status $?"
  local dir=$work/ray/$name
  if [[ ! -f $dir/parallel_tune.json ]]; then
    say "sweep $name wrote nothing"
    return
  fi
  [[ -f $dir/analysis/report.md ]] || "$py" -m parallel_tune.analyze "$dir" >/dev/null || say "analysis of $name failed"
  mkdir -p "$stage/$name"
  cp "$dir/parallel_tune.json" "$stage/$name/"
  [[ -f $dir/race.jsonl ]] && cp "$dir/race.jsonl" "$stage/$name/"
  [[ -f $dir/ceiling.parquet ]] && cp "$dir/ceiling.parquet" "$stage/$name/"
  [[ -d $dir/analysis ]] && cp -r "$dir/analysis" "$stage/$name/"
}

say "$mode on $(hostname): $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB, budget ${budget} s"
nvidia-smi -L 2>/dev/null || say "no nvidia-smi"
"$py" -c 'import ray, torch, gymnasium, mujoco; print("ray", ray.__version__, "torch", torch.__version__, "gymnasium", gymnasium.__version__, "mujoco", mujoco.__version__)'
if [[ $mode == run ]]; then
  sweep runners_only_16core 330 --space runners_only --runners 1,2,4,8,16 --num-cpus 17 --ceiling 3 \
    --no-drift-check "${precise[@]}"
  sweep throughput_16core 150 --space throughput --runners 8,15 --envs-per-runner 1,4 --goal fastest \
    --ceiling 3 "${precise[@]}"
  sweep gpu_learner_16core 200 --space gpu_learner --runners 8 "${precise[@]}"
else
  sweep runners_check 45 --space smoke --envs-per-runner 1,2,3,4 --iterations 40 --ceiling 1 --no-drift-check
  sweep throughput_check 70 --space smoke --envs-per-runner 1,16 --goal fastest --ceiling 1 --iterations 8
  sweep gpu_learner_check 60 --space smoke --set num_learners=1 --num-cpus 3 --iterations 4
fi
tar czf "$out/sixteen_core.tar.gz" -C "$work/stage" benchmarks
say "packed: $(tar tzf "$out/sixteen_core.tar.gz" | grep -c /analysis/) analysis files in $out/sixteen_core.tar.gz"
rm -rf "$work"
