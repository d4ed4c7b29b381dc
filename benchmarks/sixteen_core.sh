#!/usr/bin/env bash
# The 16-core results, in parts that each fit one call of at most 10 minutes
# on a borrowed many-core GPU host (the README's results section, next to the
# original study). Every run goes through the package's own CLIs.
#
#   bash benchmarks/sixteen_core.sh PART OUT_DIR [PYTHON]
#
#   runners   runners_only at 1, 2, 4, 8, 16 runners, --ceiling. 16 runners
#             need 17 CPUs: --num-cpus 17, as the sweep advises, and the report
#             judges that config against the 16 real cores.          ~8.5 min
#   fastest   throughput at 8 and 15 runners x 1, 2, 4 envs, --ceiling (the
#             fastest config against the bare environment); gpu_learner at 8
#             runners (CPU learner, then GPU learner).                ~9 min
#   more      vectorize and learners at 8 runners; harness and telemetry
#             overhead at 8 runners.                                  ~8.5 min
#   check     the smoke space through the same steps, on any machine: tries
#             the time box, the analysis of a stopped sweep and the packing.
#
# Times are estimated from a probe on a 16-core host (1r x 1e 24.7 s per
# iteration, 8r x 1e 4.7 s, 16r x 1e 2.5 s; batch 65536 with 20 epochs at 8
# runners 22 s). Sweeps stop each config at +-5 % precision (at most 6
# iterations, 1 of them warm-up) to fit. Each sweep has a time box; a sweep
# still running at its end is stopped as Ctrl-C stops it (resumable) and
# analysed as far as it got, so a part always comes back with what it
# measured. Run the parts back to back: a borrowed machine stays warm for
# seconds, and starting a new one costs minutes of the loan.
#
# OUT_DIR receives PART.log and PART.tar.gz, which holds
# benchmarks/results/<space>_16core/ (manifest and analysis/) and, for
# `more`, benchmarks/results/overhead_16core/: unpack it in the repository
# root with `tar xzf PART.tar.gz`.
set -uo pipefail
part=${1:?usage: sixteen_core.sh runners|fastest|more|check OUT_DIR [PYTHON]}
out=$(realpath -m "${2:?usage: sixteen_core.sh PART OUT_DIR [PYTHON]}")
py=${3:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
stage=$work/stage/benchmarks/results
mkdir -p "$out" "$stage"
log=$out/$part.log
exec > >(tee -a "$log") 2>&1
cd "$root"
start=$SECONDS
precise=(--precision 0.05 --iterations 6)

say() { echo "[sixteen_core +$((SECONDS - start))s] $*"; }

# sweep NAME BOX_S ARGS...: one sweep into $work/ray/NAME, stopped with SIGINT
# after BOX_S seconds, analysed even when stopped, copied to the stage.
sweep() {
  local name=$1 box=$2
  shift 2
  say "sweep $name (time box ${box} s): $*"
  timeout -s INT -k 60 "$box" "$py" -m parallel_tune.sweep "$@" --storage-path "$work/ray" --name "$name"
  local rc=$?
  say "sweep $name ended with status $rc"
  local dir=$work/ray/$name
  if [[ ! -f $dir/parallel_tune.json ]]; then
    say "sweep $name wrote nothing"
    return
  fi
  if [[ ! -f $dir/analysis/report.md ]]; then
    "$py" -m parallel_tune.analyze "$dir" || say "analysis of $name failed"
  fi
  mkdir -p "$stage/$name"
  cp "$dir/parallel_tune.json" "$stage/$name/"
  [[ -d $dir/analysis ]] && cp -r "$dir/analysis" "$stage/$name/"
}

# bench NAME BOX_S SCRIPT ARGS...: a benchmark script's output into the stage.
bench() {
  local name=$1 box=$2 script=$3
  shift 3
  say "benchmark $script (time box ${box} s): $*"
  mkdir -p "$stage/overhead_16core"
  timeout -s INT -k 30 "$box" "$py" "benchmarks/$script" "$@" | tee "$stage/overhead_16core/$name.txt"
  say "benchmark $script ended with status ${PIPESTATUS[0]}"
}

say "part $part on $(hostname): $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB"
nvidia-smi -L 2>/dev/null || say "no nvidia-smi"
"$py" -c 'import ray, torch, gymnasium, mujoco; print("ray", ray.__version__, "torch", torch.__version__, "gymnasium", gymnasium.__version__, "mujoco", mujoco.__version__)'
case $part in
  runners)
    sweep runners_only_16core 500 --space runners_only --runners 1,2,4,8,16 --num-cpus 17 --ceiling "${precise[@]}"
    ;;
  fastest)
    sweep throughput_16core 240 --space throughput --runners 8,15 --envs-per-runner 1,2,4 --ceiling "${precise[@]}"
    sweep gpu_learner_16core 280 --space gpu_learner --runners 8 "${precise[@]}"
    ;;
  more)
    sweep vectorize_16core 180 --space vectorize --runners 8 --envs-per-runner 1,4 "${precise[@]}"
    sweep learners_16core 110 --space learners --runners 8 "${precise[@]}"
    bench harness_overhead_8_runners 100 harness_overhead.py --runners 8 --repeats 2
    bench telemetry_overhead_8_runners 100 telemetry_overhead.py --runners 8 --repeats 2
    ;;
  check)
    sweep smoke_check 40 --space smoke --envs-per-runner 1,2,3,4 --iterations 40 --ceiling 1
    ;;
  *)
    say "unknown part $part: runners, fastest, more or check"
    exit 2
    ;;
esac
tar czf "$out/$part.tar.gz" -C "$work/stage" benchmarks
say "packed: $(tar tzf "$out/$part.tar.gz" | grep -c /analysis/) analysis files in $out/$part.tar.gz"
rm -rf "$work"
