#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks for `make run` and `make test`:
# the system packages of scripts/apt-packages.txt (with apt, when root) and the virtualenv.
# Safe to run again: it installs only what is missing, and reinstalls Python packages only
# when requirements.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < scripts/apt-packages.txt

if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/nimbo-apt.log 2>&1; then
      apt-get update -q >>/tmp/nimbo-apt.log 2>&1
      apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/nimbo-apt.log 2>&1 \
        || { echo "bootstrap: apt-get failed, see /tmp/nimbo-apt.log"; tail -20 /tmp/nimbo-apt.log; exit 1; }
    fi
  elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
    sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "bootstrap: please install these packages: ${missing[*]}" >&2
    exit 1
  fi
fi

if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "bootstrap: installing Python packages"
  .venv/bin/pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi
