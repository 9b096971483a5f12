#!/usr/bin/env bash
# Build a Python scenario into a Stampede component.
#
#   sdk/python/build.sh <app_dir> <module> <out.wasm> [extra componentize-py options...]
#
# <app_dir> holds <module>.py (the app module: it defines or imports the class `Runner`) and runner.py
# (which exports the class `Vu`), for the world `scenario`; or, for shared isolation (the world
# `scenario-shared`), shared_runner.py (exporting a `stampede.SharedVu` subclass as `Vu`) and an app
# module with the class `SharedRunner`. sdk/python (stampede.py) is added to the Python path. Extra
# options go to `componentize-py componentize`, e.g. `-p path/to/vendored/deps`.
#
# componentize-py (pinned in sdk/python/requirements.txt) is installed on first use into a venv under
# target/sdk-python/ (or $STAMPEDE_PYTHON_TOOLS; needs `python3` >= 3.9 with venv and pip, and PyPI the first time; set PYTHON to
# choose the interpreter). The build is skipped when <out.wasm> is newer than every source (*.py in
# <app_dir> and sdk/python, wit/*.wit, requirements.txt); set STAMPEDE_FORCE_BUILD=1 to rebuild anyway.
# Prints the component's path on success.
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: $0 <app_dir> <module> <out.wasm> [extra componentize-py options...]" >&2
    exit 2
fi
app_dir="$(cd "$1" && pwd)"
module="$2"
out="$3"
shift 3

sdk="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$sdk/../.." && pwd)"
tools="${STAMPEDE_PYTHON_TOOLS:-$root/target/sdk-python}"
venv="$tools/venv"
python="${PYTHON:-python3}"

if [[ ! -f "$app_dir/$module.py" && ! -f "$app_dir/$module/__init__.py" ]]; then
    echo "error: no module $module in $app_dir (expected $module.py)" >&2
    exit 1
fi
has() { [[ -f "$app_dir/$1.py" || -f "$app_dir/$1/__init__.py" ]]; }
if has runner && has shared_runner; then
    echo "error: $app_dir has both runner.py (one instance per VU, world scenario) and shared_runner.py" >&2
    echo "(shared isolation, world scenario-shared): a component implements one world; keep one of them" >&2
    exit 1
elif has shared_runner; then
    world=scenario-shared
elif has runner; then
    world=scenario
else
    echo "error: $app_dir/runner.py is missing: componentize-py looks up the exported resource \`vu\` as the" >&2
    echo "class Vu in a module named after its interface. Create it with the line: from $module import Vu" >&2
    echo "(or, for a stampede.SharedVu run with isolation = \"shared\", name that file shared_runner.py)" >&2
    exit 1
fi

mkdir -p "$tools" "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

# Up to date? (newer than every source; `find -newer` lists sources modified after the output)
if [[ -f "$out" && -z "${STAMPEDE_FORCE_BUILD:-}" ]]; then
    newer="$(find "$app_dir" "$sdk" "$root/wit" -newer "$out" \
        \( -name '*.py' -o -name '*.wit' -o -name requirements.txt \) -not -path '*/__pycache__/*' -not -path "$sdk/tests/*" -print -quit)"
    if [[ -z "$newer" ]]; then
        echo "$out"
        exit 0
    fi
fi

# One build at a time per checkout (the venv and target dir are shared); flock is in util-linux.
if command -v flock >/dev/null; then
    exec 9>"$tools/lock"
    flock 9
fi

# componentize-py in a venv, reinstalled when requirements.txt changes.
stamp="$venv/.requirements"
if [[ ! -x "$venv/bin/componentize-py" ]] || ! cmp -s "$sdk/requirements.txt" "$stamp"; then
    echo "installing componentize-py into $venv" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$sdk/requirements.txt" >&2
    cp "$sdk/requirements.txt" "$stamp"
fi

# Build into a temp file next to the output, then rename: a reader never sees a half-written component.
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# Don't let the caller's activated venv leak its site-packages into the component.
unset VIRTUAL_ENV
"$venv/bin/componentize-py" --quiet -d "$root/wit" -w "$world" componentize \
    -p "$app_dir" -p "$sdk" "$@" "$module" -o "$tmp" >&2
mv -f "$tmp" "$out"
echo "$out"
