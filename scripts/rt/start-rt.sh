#!/usr/bin/env bash
# start-rt.sh - install (if needed), initialise (if needed) and start the
# project's own Request Tracker 5 (Debian 12 package request-tracker5, SQLite
# backend, Starlet) on 127.0.0.1 only, for development and tests.
# Idempotent: with the server up it prints the URL and exits 0 in ~0.2 s.
# Must run as root (apt-get, setpriv to www-data). Then run seed-rt.sh.
#
# Self-contained: RT reads ONLY $RT_STATE_DIR/RT_SiteConfig.pm (through
# RT_SITE_CONFIG / RT_SITE_CONFIG_DIR), never /etc/request-tracker5/RT_SiteConfig*,
# so another RT set-up on the machine cannot change this instance, and the
# webhook target is NOT in the config: seed-rt.sh stores it in the RT database
# (attribute ReleasedeskWebhook on RT->System), changeable without a restart.
#
# Environment (all optional):
#   RT_PORT           port, bound to 127.0.0.1 only (default 8085)
#   RT_STATE_DIR      config, SQLite db, pid file, log, tokens (default /var/lib/releasedesk-rt)
#   RT_ROOT_PASSWORD  password of RT user root, first init only (default: password)
#   RT_WORKERS        Starlet worker processes (default 3; keep >= 2: RT waits for the
#                     webhook answer inside a ticket update, callbacks need a free worker)
#   RT_BCRYPT_COST    bcrypt cost of password and token hashes (default 4 = fast, for this
#                     dev/test instance: checking a token costs ~3 ms instead of ~300 ms at
#                     RT's default 12, measured here). Tokens already hashed at a higher cost are
#                     re-issued by seed-rt.sh. Use 12 for anything that is not a test instance.
# The settings apply when RT starts: to change them on a running RT, run stop-rt.sh first.
# Prints the base URL on stdout; logs in $RT_STATE_DIR/rt-server.log.
set -euo pipefail

RT_PORT="${RT_PORT:-8085}"
RT_HOST=127.0.0.1
RT_STATE_DIR="${RT_STATE_DIR:-/var/lib/releasedesk-rt}"
RT_ROOT_PASSWORD="${RT_ROOT_PASSWORD:-password}"
RT_WORKERS="${RT_WORKERS:-3}"
RT_BCRYPT_COST="${RT_BCRYPT_COST:-4}"

PIDFILE="$RT_STATE_DIR/rt-server.pid"
LOGFILE="$RT_STATE_DIR/rt-server.log"
DBFILE="$RT_STATE_DIR/rt.sqlite"
TIMINGS="$RT_STATE_DIR/timings.txt"
SITECONF="$RT_STATE_DIR/RT_SiteConfig.pm"
SITECONF_DIR="$RT_STATE_DIR/RT_SiteConfig.d"
RT_SERVER=/usr/share/request-tracker5/libexec/rt-server
BASE_URL="http://$RT_HOST:$RT_PORT"
PACKAGES="request-tracker5 rt5-db-sqlite rt5-standalone rt5-clients sqlite3 curl"

log() { printf '[start-rt] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

case "$RT_PORT" in ''|*[!0-9]*) log "ERROR: RT_PORT must be a number, got '$RT_PORT'"; exit 2 ;; esac
case "$RT_WORKERS" in ''|*[!0-9]*|0) log "ERROR: RT_WORKERS must be a positive number"; exit 2 ;; esac
case "$RT_BCRYPT_COST" in ''|*[!0-9]*) log "ERROR: RT_BCRYPT_COST must be a number (4..31)"; exit 2 ;; esac
if [ "$RT_BCRYPT_COST" -lt 4 ] || [ "$RT_BCRYPT_COST" -gt 31 ]; then
  log "ERROR: RT_BCRYPT_COST must be between 4 and 31"; exit 2
fi
case "$RT_STATE_DIR" in /*) ;; *) log "ERROR: RT_STATE_DIR must be an absolute path"; exit 2 ;; esac
if [ "$(id -u)" != 0 ]; then log "ERROR: must run as root (apt-get, setpriv)"; exit 2; fi

# every RT program started below reads only our config
export RT_SITE_CONFIG="$SITECONF" RT_SITE_CONFIG_DIR="$SITECONF_DIR"

http_code() { curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$1" 2>/dev/null || true; }

pid_alive() {
  [ -s "$PIDFILE" ] || return 1
  local pid; pid="$(cat "$PIDFILE")"
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  grep -aq 'rt-server' "/proc/$pid/cmdline" 2>/dev/null || return 1   # pid not recycled
}

# ---------------------------------------------------------------- 0. running?
if pid_alive; then
  code="$(http_code "$BASE_URL/")"
  if [ "$code" != 000 ]; then
    log "already running (pid $(cat "$PIDFILE"), HTTP $code)"
    echo "$BASE_URL"
    exit 0
  fi
  log "pid $(cat "$PIDFILE") alive but not answering yet; waiting"
fi

if ! pid_alive && [ "$(http_code "$BASE_URL/")" != 000 ]; then
  die "something else already answers on $BASE_URL (another RT? e.g. the shared recipe's: stop it with its stop-rt.sh) or set RT_PORT"
fi

# ---------------------------------------------------------------- 1. install
missing=""
for p in $PACKAGES; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
    missing="$missing $p"
  fi
done
if [ -n "$missing" ]; then
  t0="$(now)"
  export DEBIAN_FRONTEND=noninteractive
  case "$(apt-cache policy request-tracker5 2>/dev/null || true)" in
    *"Candidate: "[0-9]*) ;;
    *) log "apt-get update"; apt-get update -q >/dev/null || die "apt-get update failed" ;;
  esac
  # debconf answers; the database is initialised below, not by dbconfig-common
  preseed="$(mktemp)"
  cat > "$preseed" <<'EOF'
request-tracker5 request-tracker5/rtname string releasedesk.local
request-tracker5 request-tracker5/organization string releasedesk.local
request-tracker5 request-tracker5/correspondaddress string rt@localhost
request-tracker5 request-tracker5/commentaddress string rt-comment@localhost
request-tracker5 request-tracker5/webbaseurl string http://127.0.0.1:8085
request-tracker5 request-tracker5/webpath string /rt
request-tracker5 request-tracker5/handle-siteconfig-permissions boolean true
request-tracker5 request-tracker5/install-cronjobs boolean false
request-tracker5 request-tracker5/dbconfig-install boolean false
request-tracker5 request-tracker5/database-type select sqlite3
exim4-config exim4/dc_eximconfig_configtype select local delivery only; not on a network
exim4-config exim4/dc_local_interfaces string 127.0.0.1 ; ::1
EOF
  if ! debconf-set-selections "$preseed" 2>/dev/null; then
    # after a purge debconf keeps "Dummy template" entries that refuse answers
    while IFS= read -r line; do
      printf '%s\n' "$line" | debconf-set-selections 2>/dev/null || log "debconf: could not preseed: $line"
    done < "$preseed"
  fi
  rm -f "$preseed"
  if [ ! -e /etc/dbconfig-common/request-tracker5.conf ]; then
    mkdir -p /etc/dbconfig-common
    printf "dbc_install='false'\ndbc_upgrade='false'\ndbc_remove='false'\ndbc_dbtype='sqlite3'\n" \
      > /etc/dbconfig-common/request-tracker5.conf
    chmod 600 /etc/dbconfig-common/request-tracker5.conf
  fi
  # request-tracker5 pulls in an MTA (exim4): keep maintainer scripts from starting daemons
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  log "apt-get install$missing (log: /tmp/releasedesk-rt-apt.log)"
  rc=0
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    $PACKAGES > /tmp/releasedesk-rt-apt.log 2>&1 || rc=$?
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ "$rc" != 0 ]; then
    tail -20 /tmp/releasedesk-rt-apt.log >&2
    die "apt-get install failed (rc $rc), full log: /tmp/releasedesk-rt-apt.log"
  fi
  [ -x "$RT_SERVER" ] || die "$RT_SERVER missing after install"
  mkdir -p "$RT_STATE_DIR"
  echo "apt_install_seconds=$(elapsed "$t0")" >> "$TIMINGS"
  log "installed in $(elapsed "$t0")s"
fi

# ---------------------------------------------------------------- 2. config
install -d -o www-data -g www-data -m 750 "$RT_STATE_DIR"
install -d -o root -g www-data -m 750 "$SITECONF_DIR"   # stays empty: shadows /etc/.../RT_SiteConfig.d
tmpconf="$(mktemp)"
# values travel through the environment and are quoted by perl
H_PORT="$RT_PORT" H_DB="$DBFILE" H_BCRYPT="$RT_BCRYPT_COST" perl -e '
  sub sq { my $s = shift; $s =~ s/([\\\x27])/\\$1/g; return "\x27$s\x27" }
  my $p = $ENV{H_PORT} + 0;
  print <<"EOF";
# Written by scripts/rt/start-rt.sh (releasedesk). The only site config this RT
# reads (RT_SITE_CONFIG); edit the script, not this file.
Set(\$rtname, "releasedesk.local");
Set(\$Organization, "releasedesk.local");
Set(\$CorrespondAddress, q{rt\@localhost});
Set(\$CommentAddress, q{rt-comment\@localhost});
Set(\$Timezone, "UTC");
Set(\$WebPath, "");
Set(\$WebDomain, "127.0.0.1");
Set(\$WebPort, $p);
Set(\$WebBaseURL, "http://127.0.0.1:$p");
Set(\$DatabaseType, "SQLite");
Set(\$DatabaseName, @{[ sq($ENV{H_DB}) ]});
Set(\$DatabaseHost, "");
Set(\$DatabaseUser, "");
Set(\$DatabasePassword, "");
# no MTA: outgoing mail (autoreplies) is appended to /var/lib/request-tracker5/<date>.mbox
Set(\$MailCommand, "mbox");
# log to stderr (= rt-server.log); no syslog daemon here
Set(\$LogToSyslog, 0);
Set(\$LogToFile, 0);
Set(\$LogToSTDERR, "info");
# dev/test instance: cheap bcrypt, so token-authenticated REST2 calls are fast
Set(\$BcryptCost, @{[ $ENV{H_BCRYPT} + 0 ]});
1;
EOF
' > "$tmpconf"
install -o root -g www-data -m 640 "$tmpconf" "$SITECONF"
rm -f "$tmpconf"
perl -c "$SITECONF" >/dev/null 2>&1 || die "generated $SITECONF does not compile"

# ---------------------------------------------------------------- 3. database
if [ ! -s "$DBFILE" ]; then
  t0="$(now)"
  log "initialising SQLite database $DBFILE"
  pwfile="$(mktemp)"
  printf '%s\n' "$RT_ROOT_PASSWORD" > "$pwfile"
  if ! /usr/sbin/rt-setup-database-5 --action init --skip-create \
        --root-password-file "$pwfile" > "$RT_STATE_DIR/init.log" 2>&1; then
    rm -f "$pwfile" "$DBFILE"
    tail -20 "$RT_STATE_DIR/init.log" >&2
    die "rt-setup-database failed, see $RT_STATE_DIR/init.log"
  fi
  rm -f "$pwfile"
  echo "db_init_seconds=$(elapsed "$t0")" >> "$TIMINGS"
  log "database initialised in $(elapsed "$t0")s"
fi
chown www-data:www-data "$DBFILE"
chmod 640 "$DBFILE"

# ---------------------------------------------------------------- 4. start
if ! pid_alive; then
  rm -f "$PIDFILE"
  [ "$(http_code "$BASE_URL/")" = 000 ] || die "something else took $BASE_URL meanwhile; set RT_PORT"
  # compiled templates of another RT config do no good
  find /var/cache/request-tracker5/mason_data -type f -delete 2>/dev/null || true
  t0="$(now)"
  log "starting rt-server (Starlet, $RT_WORKERS workers) on $BASE_URL"
  touch "$LOGFILE"; chown www-data:www-data "$LOGFILE"
  # setsid: own session, survives the calling shell; setpriv execs, so $! is the master's pid
  setsid setpriv --reuid=www-data --regid=www-data --init-groups -- \
    "$RT_SERVER" --server Starlet --host "$RT_HOST" --port "$RT_PORT" --max-workers "$RT_WORKERS" \
    < /dev/null >> "$LOGFILE" 2>&1 &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 240); do
    if ! pid_alive; then
      tail -20 "$LOGFILE" >&2
      rm -f "$PIDFILE"
      die "rt-server exited, see $LOGFILE"
    fi
    [ "$(http_code "$BASE_URL/")" != 000 ] && break
    sleep 0.5
  done
  echo "server_ready_seconds=$(elapsed "$t0")" >> "$TIMINGS"
  log "answering after $(elapsed "$t0")s (pid $(cat "$PIDFILE"), log $LOGFILE)"
fi

[ "$(http_code "$BASE_URL/")" != 000 ] || die "rt-server (pid $(cat "$PIDFILE")) does not answer on $BASE_URL after 120s, see $LOGFILE"
echo "$BASE_URL"
