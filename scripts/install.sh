#!/usr/bin/env bash
# Install what ministack needs on Debian 12: apt packages (only the missing ones) and a virtual
# environment in .venv with the package, the openstack CLI and, with --test, the test tools. Fast when installed:
# apt is skipped when every package is present, pip when pyproject.toml has not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=".[client]"
if [[ "${1:-}" == "--test" ]]; then extras=".[client,test]"; fi

apt_packages=(python3 python3-venv python3-dev gcc pkg-config curl ca-certificates)
for f in scripts/apt-packages.d/*.txt; do
    [[ -e "$f" ]] || continue
    # a line is "package [command]": with a command already on PATH the package is not needed
    # (npm, say, may come with a nodejs that is not Debian's)
    while read -r pkg cmd _; do
        [[ -z "$pkg" || "$pkg" == \#* ]] && continue
        [[ -n "${cmd:-}" && "$cmd" != \#* ]] && command -v "$cmd" >/dev/null && continue
        apt_packages+=("$pkg")
    done < "$f"
done

missing=()
for pkg in "${apt_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if (( ${#missing[@]} )); then
    echo "installing apt packages: ${missing[*]}"
    sudo_cmd=""
    if [[ $(id -u) -ne 0 ]]; then sudo_cmd="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo_cmd apt-get update -qq
    $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "ministack needs Python 3.11 or newer; $python is $("$python" --version)" >&2
    exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
stamp=".venv/.ministack-$(echo "$extras" | tr -c 'a-z' '_')"
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "installing Python packages into .venv"
    .venv/bin/pip install -q --disable-pip-version-check -U pip
    .venv/bin/pip install -q --disable-pip-version-check -e "$extras"
    echo "$want" > "$stamp"
fi
# the dashboard's pinned front-end libraries (npm), outside the repository
scripts/install-dashboard-assets.sh
