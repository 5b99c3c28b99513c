# Sourced by bin/algotrade and bin/test: make sure .venv matches requirements.lock, then return.
# First use creates the venv (about a minute with a warm pip cache); later calls only compare a hash.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
stamp="$venv/.algotrade-stamp"
want=$( { echo "$root"; cat "$root/requirements.lock" "$root/pyproject.toml"; } | sha256sum | cut -c1-32)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  py=${ALGOTRADE_PYTHON:-python3}
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "algotrade: needs Python 3.11 or newer as '$py' (set ALGOTRADE_PYTHON=/path/to/python3.11)" >&2
    exit 2
  fi
  echo "algotrade: setting up $venv from requirements.lock (first time only, ~1-2 minutes)..." >&2
  t0=$(date +%s)
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv" || exit 2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/requirements.lock" || {
    echo "algotrade: installing the pinned packages failed (see above); rerun when the package index is reachable" >&2; exit 2; }
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$root" || exit 2
  echo "$want" > "$stamp"
  echo "algotrade: environment ready in $(( $(date +%s) - t0 )) s" >&2
fi
export ZIPLINE_ROOT="${ZIPLINE_ROOT:-$root/.cache/zipline}"
export MPLBACKEND="${MPLBACKEND:-Agg}"
