#!/usr/bin/env bash
# Installs ai_sessions (editable) into the virtualenv with the extras given: `make lab` and `make test` call it.
#
# The `local` extra needs llama-cpp-python, which PyPI ships as source only: pip compiles it, which needs a C/C++
# compiler and cmake and takes 3 to 10 minutes on 2 cores the first time (pip's wheel cache makes later installs
# fast). So when llama-cpp-python is not installed yet, this says what is happening, installs Debian's
# build-essential and cmake when they are missing (as root, with apt-get; otherwise it names what to install),
# and shows the compile's progress (scripts/pip-progress.awk); the whole pip output goes to a log file.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
extras=${1:?usage: scripts/install.sh EXTRAS (e.g. all,local,lab)}
pip=("$venv/bin/python" -m pip)

if "$venv/bin/python" -c "import llama_cpp" 2>/dev/null || [[ ",$extras," != *,local,* && ",$extras," != *,dev,* ]]; then
    exec "${pip[@]}" install -q -e ".[$extras]"
fi

missing=()
command -v cc >/dev/null && command -v c++ >/dev/null || missing+=(build-essential)
command -v cmake >/dev/null || missing+=(cmake)
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "Installing ${missing[*]} with apt-get: llama-cpp-python compiles with a C/C++ compiler and cmake"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "llama-cpp-python (the embedded model's runtime) compiles from source: it needs a C/C++ compiler" \
             "and cmake. Install them and run make again; on Debian or Ubuntu:" >&2
        echo "    sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

log=$(mktemp "${TMPDIR:-/tmp}/ai_sessions-pip-XXXXXX.log")
echo "Installing into $venv with [$extras]; the full pip output goes to $log"
echo "Compiling llama-cpp-python (the embedded model's runtime), unless pip has it cached: about 3 to 10" \
     "minutes on 2 cores. Progress:"
if "${pip[@]}" install -v -e ".[$extras]" 2>&1 | tee "$log" | awk -f scripts/pip-progress.awk; then
    rm -f "$log"
else
    echo "pip failed; its last lines (all of its output is in $log):" >&2
    tail -n 40 "$log" >&2
    exit 1
fi
