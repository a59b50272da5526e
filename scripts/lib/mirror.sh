# shellcheck shell=bash
# mirror: the Debian mirror this machine's apt already uses (never hard-coded).
# Sourced by scripts/pbx and scripts/container-host.
mirror() {
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  if [ -z "$uri" ]; then
    uri=$(grep -rhoE 'https?://[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security | head -n1 || true)
  fi
  [ -n "$uri" ] || { printf 'error: no Debian mirror found in /etc/apt/sources.list{,.d}\n' >&2; return 1; }
  printf '%s\n' "${uri%/}"
}
