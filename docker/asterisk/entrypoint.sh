#!/bin/sh
# Entrypoint of the Asterisk container (docker/asterisk/Dockerfile).
#
# At every start, like scripts/pbx install_config:
#   1. renders /etc/asterisk from the image's pristine copy of asterisk-config/
#      and dialplan/, with @PBX_BIND@ in pjsip.conf replaced by $PBX_BIND;
#   1b. renders the site's dialplan numbers (queue numbers, voicemail numbers,
#      DIDs, the trunk endpoint, the outbound caller ID) from the service
#      config (/etc/ari-app/config.toml, the same file ari-app reads) with
#      pbx_site.py into extensions_site.conf, and copies the site's own files
#      (/etc/ari-app/site/: pjsip_trunks.conf, pjsip_site.conf,
#      extensions_custom.conf) in: a site change is a restart, never a rebuild;
#   1c. installs the site's prompts (/etc/ari-app/site/prompts/<lang>/*.wav,
#      rendered on the host by `scripts/make-prompts --site config/production.toml
#      --out site/prompts`: agents' names, the site's organisation names) beside
#      the image's prompts in sounds/<lang>/callcenter/ (R-XFER-NAME, R-GREET);
#   2. installs the generated secrets (scripts/setup-secrets; mounted read-only
#      at /run/secrets by docker-compose.yml) over the development ones:
#      ari_users.conf, manager_users.conf, pjsip_phones.conf;
#   3. refuses to start if any config file still holds a development password
#      (callcenter-dev, dev-1001, dev-caller1, ...), if a secrets file is
#      missing, or if ARI_PASSWORD / AMI_SECRET (when set) do not match them;
#   4. umask 027 (voicemails and recordings are not world-readable), then
#      exec the command: asterisk -f -U asterisk -G asterisk (the image's CMD).
#
# `ari-app-asterisk-entrypoint reload` (docker-compose exec asterisk ...): steps
# 1-3 again, then `core reload` of the running Asterisk: a changed config or
# site file applied without dropping the calls in progress (a restart of the
# container hangs them all up). Nothing changes when a step fails.
#
# /etc/asterisk is rendered into /etc/asterisk.new and swapped in only when
# every step passed. Asterisk logs to the console only (the container's log,
# size-limited by docker-compose.yml), not to a file in the log volume.
#
# Environment:
#   PBX_BIND                  required: PJSIP bind address (network_mode host:
#                             the host's own address)
#   ARI_PASSWORD, AMI_SECRET  optional: checked against the secrets files
#   ARI_APP_CONFIG            the service config (default /etc/ari-app/config.toml)
#   ARI_APP_SITE              the site's files (default /etc/ari-app/site)
#   ASTERISK_ALLOW_UNSUPPORTED=1  start an Asterisk outside the supported range
#   ARI_APP_ROOT              tests only: a directory prefixed to every path
#   PBX_SITE_PY               tests only: the renderer (default in the image)
set -eu

MODE=start
if [ "${1:-}" = reload ]; then MODE=reload; shift; fi
R=${ARI_APP_ROOT:-}
TEMPLATE=$R/usr/share/ari-app/asterisk-etc
ETC=$R/etc/asterisk
SECRETS=$R/run/secrets
SECRET_FILES="ari_users.conf manager_users.conf pjsip_phones.conf"
CONFIG_TOML=${ARI_APP_CONFIG:-$R/etc/ari-app/config.toml}
SITE=${ARI_APP_SITE:-$R/etc/ari-app/site}
SITE_FILES="pjsip_trunks.conf pjsip_site.conf extensions_custom.conf"
PBX_SITE_PY=${PBX_SITE_PY:-/usr/local/lib/ari-app/pbx_site.py}
VERSION_FILE=$R/usr/share/ari-app/asterisk-version
# The Asterisk major versions ari-app is built and tested for (ari_app checks
# the same range over ARI at every connect).
SUPPORTED_MAJORS="22"
# Development passwords as in asterisk-config/: callcenter-dev, dev-1001,
# dev-caller1; and any password/secret whose value starts with "dev-" or
# ends with "-dev".
DEV_RE='callcenter-dev|(^|[^[:alnum:]_])dev-(caller)?[0-9]+|^[[:space:]]*(password|secret)[[:space:]]*=>?[[:space:]]*(dev-|[^[:space:];]*-dev([[:space:];]|$))'

log() { printf 'asterisk-entrypoint: %s\n' "$*" >&2; }
die() { log "error: $*"; log "refusing to start Asterisk"; exit 1; }

# conf_has FILE KEY VALUE: some "KEY = VALUE" (or "KEY => VALUE") line, comments
# stripped, has exactly VALUE. The value is compared as a string, never a pattern.
conf_has() {
  K=$2 V=$3 awk '
    { line = $0; sub(/;.*/, "", line); i = index(line, "="); if (!i) next
      k = substr(line, 1, i - 1); v = substr(line, i + 1); sub(/^>/, "", v)
      gsub(/^[ \t]+|[ \t\r]+$/, "", k); gsub(/^[ \t]+|[ \t\r]+$/, "", v)
      if (k == ENVIRON["K"] && v == ENVIRON["V"]) found = 1 }
    END { exit !found }' "$1"
}

# conf_values FILE KEY: every value of KEY, one a line.
conf_values() {
  K=$2 awk '
    { line = $0; sub(/;.*/, "", line); i = index(line, "="); if (!i) next
      k = substr(line, 1, i - 1); v = substr(line, i + 1); sub(/^>/, "", v)
      gsub(/^[ \t]+|[ \t\r]+$/, "", k); gsub(/^[ \t]+|[ \t\r]+$/, "", v)
      if (k == ENVIRON["K"]) print v }' "$1"
}

# --- 0. settings and secrets present ------------------------------------------
PBX_BIND=${PBX_BIND:-}
[ -n "$PBX_BIND" ] || die "PBX_BIND is not set (the host address for SIP): run scripts/setup-secrets, or set it in .env"
# (also keeps the sed substitution below safe: no '/', '&' or '\')
[ -z "$(printf '%s' "$PBX_BIND" | sed 's/[][0-9A-Za-z.:_-]//g')" ] \
  || die "PBX_BIND '$PBX_BIND' is not an address (IPv4, [IPv6] or host name)"
[ -d "$TEMPLATE" ] || die "no config template at $TEMPLATE (not the ari-app Asterisk image?)"
for f in $SECRET_FILES; do
  [ -f "$SECRETS/$f" ] && [ -s "$SECRETS/$f" ] \
    || die "secrets file $SECRETS/$f is missing or empty: run scripts/setup-secrets on the host (writes ./secrets/)"
done

# --- 0b. the Asterisk this image got is one ari-app supports -----------------
[ -s "$VERSION_FILE" ] || die "no $VERSION_FILE (the image records 'asterisk -V' there at build)"
version=$(head -n1 "$VERSION_FILE")
major=$(printf '%s\n' "$version" | sed -n 's/^Asterisk \([0-9][0-9]*\)\..*/\1/p')
case " $SUPPORTED_MAJORS " in
  *" ${major:-none} "*) log "$version (supported: $SUPPORTED_MAJORS.x)" ;;
  *) if [ "${ASTERISK_ALLOW_UNSUPPORTED:-}" = 1 ]; then
       log "warning: $version is outside the supported range ($SUPPORTED_MAJORS.x); ASTERISK_ALLOW_UNSUPPORTED=1"
     else
       die "$version is outside the supported range ($SUPPORTED_MAJORS.x); rebuild the image, or set ASTERISK_ALLOW_UNSUPPORTED=1 at your own risk"
     fi ;;
esac

# --- 1. render /etc/asterisk (into a new directory, swapped in at the end) -----
ETC_LIVE=$ETC
ETC=$ETC_LIVE.new
rm -rf "$ETC"
mkdir -p "$ETC"
cp -R "$TEMPLATE/." "$ETC/"
# no file log: the console is the container's log (docker-compose.yml limits its size)
if [ -f "$ETC/logger.conf" ]; then sed -i '/^[[:space:]]*messages\.log[[:space:]]*=>/d' "$ETC/logger.conf"; fi
sed -i "s/@PBX_BIND@/$PBX_BIND/g" "$ETC/pjsip.conf"
if grep -q '@PBX_BIND@' "$ETC/pjsip.conf"; then die "@PBX_BIND@ left in pjsip.conf"; fi

# --- 1b. the site: dialplan numbers from the service config, the site's files --
if [ -f "$CONFIG_TOML" ]; then
  python3 "$PBX_SITE_PY" render --config "$CONFIG_TOML" --out "$ETC/extensions_site.conf" \
    || die "cannot render the dialplan numbers from $CONFIG_TOML (check it: docker-compose run --rm --no-deps ari-app ari-app check-config /etc/ari-app/production.toml)"
else
  die "no service config at $CONFIG_TOML (docker-compose.yml mounts ./config/production.toml there; scripts/setup-secrets writes it)"
fi
if [ -d "$SITE" ]; then
  for f in "$SITE"/*; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    case " $SITE_FILES " in
      *" $name "*) cat "$f" >"$ETC/$name"; log "site file $name installed" ;;
      *) case $name in
           prompts) [ -d "$f" ] || die "$f must be a directory (scripts/make-prompts --site CONFIG --out site/prompts)" ;;
           *.example|README*) ;;
           *~|*.bak|*.orig|*.rej|*.swp|*.tmp|.*) log "warning: ignoring $SITE/$name (a backup or editor file)" ;;
           *) die "unknown site file $SITE/$name (allowed: $SITE_FILES)" ;;
         esac ;;
    esac
  done
fi

# --- 2. production secrets over the development ones ------------------------
for f in $SECRET_FILES; do
  cat "$SECRETS/$f" >"$ETC/$f"
done

# --- 2b. the AMI user's rights are the image's (least privilege) ---------------
# ari-app only logs in, pings and reads Cdr events. A secrets file written by an
# older setup-secrets grants more: the read/write lines of its [callcenter] user
# are set to the template's (rights are no secret; the secret line is kept).
AMI_READ=$(conf_values "$TEMPLATE/manager_users.conf" read | head -n1)
AMI_WRITE=$(conf_values "$TEMPLATE/manager_users.conf" write | head -n1)
ami_rights() {
  RD=$AMI_READ WR=$AMI_WRITE awk '
    function kv(k, v) { return v == "" ? k " =" : k " = " v }
    function flush() { if (sec) { if (!r) print kv("read", ENVIRON["RD"]); if (!w) print kv("write", ENVIRON["WR"]) } }
    /^[ \t]*\[/ { flush(); sec = ($0 ~ /^[ \t]*\[callcenter\]/); r = w = 0; print; next }
    sec { line = $0; sub(/;.*/, "", line); i = index(line, "=")
          if (i) { k = substr(line, 1, i - 1); gsub(/^[ \t]+|[ \t]+$/, "", k)
                   if (k == "read") { if (!r) print kv("read", ENVIRON["RD"]); r = 1; next }
                   if (k == "write") { if (!w) print kv("write", ENVIRON["WR"]); w = 1; next } } }
    { print }
    END { flush() }' "$1"
}
ami_rights "$ETC/manager_users.conf" >"$ETC/manager_users.conf.rights" || die "cannot set the AMI user's rights"
if ! cmp -s "$ETC/manager_users.conf" "$ETC/manager_users.conf.rights"; then
  log "AMI user callcenter: rights set to read = $AMI_READ, write = $AMI_WRITE (the secrets file granted more)"
fi
mv "$ETC/manager_users.conf.rights" "$ETC/manager_users.conf"

# --- 3. no development password anywhere; secrets match the environment -------
bad=$(grep -rlE "$DEV_RE" "$ETC" || true)
[ -z "$bad" ] || die "development password(s) in: $(echo $bad) (regenerate with scripts/setup-secrets --force)"
[ -n "$(conf_values "$ETC/ari_users.conf" password | head -n1)" ] || die "ari_users.conf defines no password"
[ -n "$(conf_values "$ETC/manager_users.conf" secret | head -n1)" ] || die "manager_users.conf defines no secret"
conf_values "$ETC/ari_users.conf" password | grep -q '^$' && die "ari_users.conf has an empty password"
conf_values "$ETC/manager_users.conf" secret | grep -q '^$' && die "manager_users.conf has an empty secret"
conf_values "$ETC/pjsip_phones.conf" password | grep -q '^$' && die "pjsip_phones.conf has an empty password"
if [ -n "${ARI_PASSWORD:-}" ] && ! conf_has "$ETC/ari_users.conf" password "$ARI_PASSWORD"; then
  die "ARI_PASSWORD (.env) does not match secrets/ari_users.conf: ari-app could not log in"
fi
if [ -n "${AMI_SECRET:-}" ] && ! conf_has "$ETC/manager_users.conf" secret "$AMI_SECRET"; then
  die "AMI_SECRET (.env) does not match secrets/manager_users.conf: ari-app could not log in"
fi

# --- ownership: config readable, not writable, by asterisk; its own dirs ------
if [ "$(id -u)" = 0 ] && id asterisk >/dev/null 2>&1; then
  chown -R root:asterisk "$ETC"
  find "$ETC" -type d -exec chmod 0750 {} +
  find "$ETC" -type f -exec chmod 0640 {} +
fi
if [ "$(id -u)" = 0 ] && id asterisk >/dev/null 2>&1 && [ "$MODE" = start ]; then
  # Volumes may be new (or from an older image): the same layout as scripts/pbx.
  mkdir -p "$R/var/spool/asterisk/recording/callcenter" "$R/var/spool/asterisk/recording/callcenter-fallback" "$R/var/log/asterisk" "$R/var/lib/asterisk" "$R/run/asterisk"
  chown asterisk:asterisk "$R/var/spool/asterisk" "$R/var/spool/asterisk/recording" "$R/var/spool/asterisk/recording/callcenter" \
    "$R/var/spool/asterisk/recording/callcenter-fallback" "$R/var/log/asterisk" "$R/var/lib/asterisk" "$R/run/asterisk"
  # The astdb volume: what the package put in /var/lib/asterisk, where missing
  # (a new volume, or one from an older image); the music on hold, always.
  if [ -d "$R/usr/share/ari-app/var-lib-asterisk" ]; then cp -an "$R/usr/share/ari-app/var-lib-asterisk/." "$R/var/lib/asterisk/"; fi
  if [ -d "$R/usr/share/ari-app/moh" ]; then
    rm -rf "$R/var/lib/asterisk/moh/callcenter"; mkdir -p "$R/var/lib/asterisk/moh/callcenter"
    cp "$R/usr/share/ari-app/moh/." "$R/var/lib/asterisk/moh/callcenter/" -R
  fi
  chown -R asterisk:asterisk "$R/var/lib/asterisk"
  # R-PRIVACY: recordings (voicemails) are not world-readable.
  chmod 0750 "$R/var/spool/asterisk" "$R/var/spool/asterisk/recording" "$R/var/spool/asterisk/recording/callcenter" "$R/var/spool/asterisk/recording/callcenter-fallback"
fi

# --- 1c. the site's prompts beside the image's (as scripts/pbx installs them) ------
SOUNDS=$R/usr/share/asterisk/sounds
if [ -d "$SITE/prompts" ]; then
  n=0
  for lang in zh en; do
    case $lang in zh) dests="$SOUNDS/callcenter $SOUNDS/zh/callcenter" ;; *) dests="$SOUNDS/$lang/callcenter" ;; esac
    for w in "$SITE/prompts/$lang"/*.wav; do
      [ -f "$w" ] || continue
      for d in $dests; do mkdir -p "$d"; cp "$w" "$d/"; done
      n=$((n + 1))
    done
  done
  log "site prompts installed: $n files from $SITE/prompts"
fi

# every step passed: the new config replaces the old one
if [ -d "$ETC_LIVE" ]; then rm -rf "$ETC_LIVE.old"; mv "$ETC_LIVE" "$ETC_LIVE.old"; fi
mv "$ETC" "$ETC_LIVE"
rm -rf "$ETC_LIVE.old"
log "config rendered (PBX_BIND=$PBX_BIND, production secrets from $SECRETS)"

if [ "$MODE" = reload ]; then
  exec asterisk -rx "core reload"
fi

# --- 4. run ------------------------------------------------------------------
umask 027
[ $# -gt 0 ] || set -- asterisk -f -U asterisk -G asterisk
exec "$@"
