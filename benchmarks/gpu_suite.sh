#!/usr/bin/env bash
# The GPU suite in one call (benchmarks/gpu_suite.py says what it measures).
#
#   bash benchmarks/gpu_suite.sh download     # on a machine with PyPI: wheels into .whl/
#   bash benchmarks/gpu_suite.sh run OUT_DIR  # on the GPU machine, from the repo root
#
# The GPU machine has its own JAX with CUDA (another version than the pins) and no
# package registry; `download` fetches, for CPython 3.12 on x86-64 Linux, the packages
# it lacks (Brax, MuJoCo and what they import), and `run` installs them into
# /tmp/suite-site ahead of the machine's own, then runs the suite under its JAX.
set -euo pipefail
WHEELS=(brax==0.14.2 mujoco==4.0.0 mujoco-core==4.0.0 mujoco-mjx==3.17.0
        glfw==2.11.0 jaxopt==0.8.5 trimesh==5.2.0 omegaconf==2.3.1)
PURE=(antlr4-python3-runtime==4.9.3)  # a source release only: built into a wheel here

case "${1:-}" in
download)
  mkdir -p .whl
  for wheel in "${WHEELS[@]}"; do
    python3 -m pip download -q --no-deps --only-binary=:all: -d .whl \
      --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 "$wheel"
  done
  python3 -m pip wheel -q --no-deps -w .whl "${PURE[@]}"
  ls -l .whl
  ;;
run)
  out="${2:?usage: gpu_suite.sh run OUT_DIR}"
  shift 2
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/suite-site .whl/*.whl
  export PYTHONPATH="/tmp/suite-site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
  export PYTHONUNBUFFERED=1
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  python3 benchmarks/gpu_suite.py --out "$out" "$@"
  ;;
*)
  echo "usage: gpu_suite.sh download | run OUT_DIR [gpu_suite.py options]" >&2
  exit 2
  ;;
esac
