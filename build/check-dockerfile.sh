#!/usr/bin/env bash
# Checks the Dockerfile without a Docker engine: its syntax (dockerfile-utils from npm, any finding fails), that every
# path it COPYs from the build context exists and is not excluded by .dockerignore, and that its SDK tag is the SDK
# global.json pins. Run from anywhere; exits non-zero with a message per problem.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
status=0
fail() { echo "dockerfile: $*" >&2; status=1; }

findings=$(npx --yes dockerfile-utils@0.16.3 lint Dockerfile 2>&1)
lint=$?
if [ "$lint" -ne 0 ] || [ -n "$findings" ]; then
  fail "dockerfile-utils reports:"
  echo "$findings" >&2
fi

# COPY/ADD sources from the context (not --from=stage); the last argument is the destination.
while read -r line; do
  read -r -a words <<<"$line"
  args=()
  for word in "${words[@]:1}"; do
    case "$word" in --from=*) args=(); continue 2 ;; --*) ;; *) args+=("$word") ;; esac
  done
  [ "${#args[@]}" -ge 2 ] || { fail "cannot read: $line"; continue; }
  for source in "${args[@]:0:${#args[@]}-1}"; do
    [ -e "$source" ] || { fail "$line: '$source' does not exist"; continue; }
    while read -r pattern; do
      pattern=${pattern%/}
      [ -n "$pattern" ] && [[ "$pattern" != \#* ]] || continue
      pattern=${pattern#\*\*/}
      case "${source%/}" in $pattern|$pattern/*|*/$pattern|*/$pattern/*) fail "$line: '$source' is excluded by .dockerignore ($pattern)" ;; esac
    done <.dockerignore
  done
done < <(grep -E '^(COPY|ADD)[[:space:]]' Dockerfile)

sdk=$(sed -nE 's/.*"version": *"([^"]+)".*/\1/p' global.json)
grep -qE "^FROM mcr\.microsoft\.com/dotnet/sdk:${sdk//./\\.}-" Dockerfile || fail "the build stage's SDK tag is not global.json's SDK ($sdk)"
# Every base image pinned to a full version (x.y.z, optionally -variant); a FROM naming an earlier stage is fine.
stages=()
while read -r _ image rest; do
  if [[ " ${stages[*]} " != *" $image "* ]] && ! [[ "$image" =~ :[0-9]+\.[0-9]+\.[0-9]+(-[a-z0-9.-]+)?$ ]]; then
    fail "FROM $image is not pinned to a full version (x.y.z)"
  fi
  [[ "$rest" =~ [Aa][Ss][[:space:]]+([^[:space:]]+) ]] && stages+=("${BASH_REMATCH[1]}")
done < <(grep -E '^FROM[[:space:]]' Dockerfile | sed -E 's/--platform=[^[:space:]]+[[:space:]]+//')
grep -qE '^USER ' Dockerfile || fail "no USER: the image would run as root"

[ "$status" -eq 0 ] && echo "dockerfile: syntax, copied paths and pins are fine"
exit "$status"
