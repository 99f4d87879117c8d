#!/usr/bin/env bash
# Creates (once) and activates the project's virtual environment.
#
# The environment is ~6 GB (torch with CUDA libraries), so it is built once per dependency set
# and reused: its folder name carries a hash of pyproject.toml's dependency lists, so a change
# of pins builds a new one and an unchanged set reuses the old one across clones and CI runs.
# Only the two most recent environments are kept. The project itself is (re)installed in
# editable mode on every call, which takes seconds.
#
# Usage: source scripts/venv.sh   (activates it in the calling shell)
#        bash scripts/venv.sh     (only builds it)

_vl_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_vl_venv="$(
    set -euo pipefail
    python="${VIDEOLIGHTS_PYTHON:-python3.11}"
    command -v "$python" >/dev/null 2>&1 || python=python3
    "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
        || { echo "Python 3.11 is required (set VIDEOLIGHTS_PYTHON to its path)" >&2; exit 1; }
    reqs="$("$python" - "$_vl_root/pyproject.toml" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
reqs = list(project["dependencies"])
for extra in sorted(project.get("optional-dependencies", {})):
    reqs += project["optional-dependencies"][extra]
print("\n".join(reqs))
PY
)"
    hash="$(printf '%s\n' "$reqs" | sha256sum | cut -c1-12)"
    cache="${VIDEOLIGHTS_VENV_CACHE:-$HOME/.cache/videolights/venvs}"
    venv="$cache/py311-$hash"
    if [ ! -f "$venv/.complete" ]; then
        echo "[venv] building $venv (first time for this dependency set; several minutes)" >&2
        rm -rf "$venv"
        mkdir -p "$cache"
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --upgrade pip >&2
        printf '%s\n' "$reqs" > "$venv/requirements.txt"
        "$venv/bin/python" -m pip install -q --no-cache-dir -r "$venv/requirements.txt" >&2
        touch "$venv/.complete"
        # keep the disk clean: drop all but the two newest environments
        ls -1dt "$cache"/py311-* 2>/dev/null | tail -n +3 | xargs -r rm -rf
    fi
    if ! log="$("$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$_vl_root" 2>&1)"; then
        printf '%s\n' "$log" >&2
        echo "[venv] installing the project into $venv failed" >&2
        exit 1
    fi
    echo "$venv"
)" || { echo "[venv] setup failed" >&2; return 1 2>/dev/null || exit 1; }
export VIRTUAL_ENV="$_vl_venv"
export PATH="$_vl_venv/bin:$PATH"
unset _vl_root _vl_venv
