#!/usr/bin/env bash
# Runs a throw-away mail server on loopback for the MSSanté tests: Postfix (SMTP, submission with auth) + Dovecot
# (IMAP with IDLE), TLS with a generated self-signed certificate, two test mailboxes. Nothing leaves the machine:
# Postfix delivers only to its own test domains and refuses any other destination.
#   scripts/services/mail.sh start|stop|status|env
# Environment (all optional):
#   KENEY_MAIL_WORK             working directory (config, certs, queue, mailboxes, logs)   default: <repo>/.work/mail
#   KENEY_MAIL_SMTP_PORT        SMTP (MTA-to-MTA, STARTTLS offered)                         default: 2525
#   KENEY_MAIL_SUBMISSION_PORT  submission (STARTTLS required, AUTH PLAIN/LOGIN)             default: 2587
#   KENEY_MAIL_SUBMISSIONS_PORT submissions (implicit TLS, AUTH)                             default: 2465
#   KENEY_MAIL_IMAP_PORT        IMAP (STARTTLS)                                              default: 2143
#   KENEY_MAIL_IMAPS_PORT       IMAPS (implicit TLS)                                         default: 2993
#   KENEY_MAIL_AUTH_PORT        Dovecot auth for Postfix SASL (loopback)                     default: 2126
# Mailboxes (password "keney-test-password"): dr.test@ch-test.mssante.fr, hub@ch-test.mssante.fr,
#   and the patient box 277077505600991@patient.mssante.fr (test INS).
# Install once (Debian): apt-get update && apt-get install -y postfix dovecot-imapd openssl
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="${KENEY_MAIL_WORK:-$repo/.work/mail}"
smtp_port="${KENEY_MAIL_SMTP_PORT:-2525}"
submission_port="${KENEY_MAIL_SUBMISSION_PORT:-2587}"
submissions_port="${KENEY_MAIL_SUBMISSIONS_PORT:-2465}"
imap_port="${KENEY_MAIL_IMAP_PORT:-2143}"
imaps_port="${KENEY_MAIL_IMAPS_PORT:-2993}"
auth_port="${KENEY_MAIL_AUTH_PORT:-2126}"
password="keney-test-password"
users=("dr.test@ch-test.mssante.fr" "hub@ch-test.mssante.fr" "277077505600991@patient.mssante.fr")
pf="$work/postfix"
dv="$work/dovecot"

need() {
  for bin in /usr/sbin/postfix /usr/sbin/dovecot /usr/bin/openssl; do
    [[ -x "$bin" ]] || { echo "$bin is missing: apt-get update && apt-get install -y postfix dovecot-imapd openssl" >&2; exit 1; }
  done
}

write_certificate() {
  mkdir -p "$work/tls"
  [[ -f "$work/tls/server.pem" ]] && return
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mail.ch-test.mssante.fr" \
    -addext "subjectAltName=DNS:localhost,DNS:mail.ch-test.mssante.fr,IP:127.0.0.1" \
    -keyout "$work/tls/server.key" -out "$work/tls/server.pem" 2>/dev/null
  chmod 600 "$work/tls/server.key"
}

write_mailboxes() {
  mkdir -p "$work/maildirs"
  : > "$pf/conf/vmailbox"
  : > "$dv/users"
  for u in "${users[@]}"; do
    local domain="${u#*@}" local_part="${u%@*}"
    echo "$u $domain/$local_part/Maildir/" >> "$pf/conf/vmailbox"
    echo "$u:{PLAIN}$password" >> "$dv/users"
    mkdir -p "$work/maildirs/$domain/$local_part/Maildir"/{cur,new,tmp}
  done
  chown -R mail:mail "$work/maildirs"
  chown root:dovecot "$dv/users" && chmod 640 "$dv/users"
}

write_postfix() {
  mkdir -p "$pf/conf" "$pf/queue" "$pf/data"
  chown postfix "$pf/data"
  cat > "$pf/conf/main.cf" <<CF
compatibility_level = 3.6
config_directory = $pf/conf
queue_directory = $pf/queue
data_directory = $pf/data
maillog_file = $pf/maillog
maillog_file_prefixes = /var, /dev/stdout, $work
myhostname = mail.ch-test.mssante.fr
mydomain = ch-test.mssante.fr
myorigin = \$mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Only the test domains are delivered; every other destination is refused (no traffic leaves the machine).
virtual_mailbox_domains = ch-test.mssante.fr patient.mssante.fr
virtual_mailbox_base = $work/maildirs
virtual_mailbox_maps = texthash:$pf/conf/vmailbox
virtual_minimum_uid = 8
virtual_uid_maps = static:8
virtual_gid_maps = static:8
virtual_transport = virtual
default_transport = error:outbound mail is disabled on the Keney test server
relay_transport = error:outbound mail is disabled on the Keney test server
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = reject_unlisted_recipient
smtpd_tls_cert_file = $work/tls/server.pem
smtpd_tls_key_file = $work/tls/server.key
smtpd_tls_security_level = may
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:$auth_port
smtpd_sasl_auth_enable = no
message_size_limit = 52428800
virtual_mailbox_limit = 0
biff = no
alias_maps =
alias_database =
local_recipient_maps =
CF
  cat > "$pf/conf/master.cf" <<CF
$smtp_port  inet n - n - - smtpd
$submission_port inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
$submissions_port inet n - n - - smtpd
  -o syslog_name=postfix/submissions
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
}

write_dovecot() {
  mkdir -p "$dv/run" "$dv/state"
  cat > "$dv/dovecot.conf" <<CF
protocols = imap
listen = 127.0.0.1
base_dir = $dv/run
state_dir = $dv/state
instance_name = keney-test-dovecot
log_path = $dv/dovecot.log
ssl = yes
ssl_cert = <$work/tls/server.pem
ssl_key = <$work/tls/server.key
disable_plaintext_auth = yes
auth_mechanisms = plain login
# Tests check refusals; no need to slow them down (production servers keep the default delay).
auth_failure_delay = 0
first_valid_uid = 8
mail_uid = mail
mail_gid = mail
mail_location = maildir:$work/maildirs/%d/%n/Maildir
mail_privileged_group = mail
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dv/users
}
userdb {
  driver = static
  args = uid=mail gid=mail home=$work/maildirs/%d/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps_port
    ssl = yes
  }
}
service auth {
  inet_listener {
    address = 127.0.0.1
    port = $auth_port
  }
}
# IDLE: new mail is noticed by inotify when available, else by this poll (containers often lack inotify on bind mounts).
mailbox_idle_check_interval = 1 secs
protocol imap {
  imap_idle_notify_interval = 2 mins
}
CF
}

pf_running() {
  /usr/sbin/postfix -c "$pf/conf" status >/dev/null 2>&1
}

dv_running() {
  [[ -f "$dv/run/master.pid" ]] && kill -0 "$(cat "$dv/run/master.pid")" 2>/dev/null
}

wait_port() {
  local port=$1
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

print_env() {
  cat <<ENV
KENEY_MAIL_HOST=127.0.0.1
KENEY_MAIL_SMTP_PORT=$smtp_port
KENEY_MAIL_SUBMISSION_PORT=$submission_port
KENEY_MAIL_SUBMISSIONS_PORT=$submissions_port
KENEY_MAIL_IMAP_PORT=$imap_port
KENEY_MAIL_IMAPS_PORT=$imaps_port
KENEY_MAIL_CA=$work/tls/server.pem
KENEY_MAIL_PASSWORD=$password
ENV
}

case "${1:-}" in
  start)
    need
    mkdir -p "$work"
    write_certificate
    write_postfix
    write_dovecot
    write_mailboxes
    if ! dv_running; then
      # Daemons must not keep the caller's stdout/stderr open (a test runner waits for them to close).
      /usr/sbin/dovecot -c "$dv/dovecot.conf" </dev/null >"$dv/start.log" 2>&1 || { cat "$dv/start.log" >&2; exit 1; }
    fi
    if ! pf_running; then
      /usr/sbin/postfix -c "$pf/conf" check </dev/null >"$pf/check.log" 2>&1 || { cat "$pf/check.log" "$pf/maillog" >&2; exit 1; }
      /usr/sbin/postfix -c "$pf/conf" start </dev/null >"$pf/start.log" 2>&1 || { cat "$pf/start.log" >&2; tail -5 "$pf/maillog" >&2; exit 1; }
    fi
    for port in "$smtp_port" "$submission_port" "$submissions_port" "$imap_port" "$imaps_port"; do
      wait_port "$port" || { echo "Port $port did not open; see $pf/maillog and $dv/dovecot.log" >&2; exit 1; }
    done
    echo "Mail server ready on 127.0.0.1: SMTP $smtp_port, submission $submission_port (STARTTLS+AUTH), submissions $submissions_port, IMAP $imap_port (STARTTLS), IMAPS $imaps_port; work dir $work"
    ;;
  stop)
    if pf_running; then /usr/sbin/postfix -c "$pf/conf" stop </dev/null >/dev/null 2>&1 || true; fi
    if dv_running; then
      pid="$(cat "$dv/run/master.pid")"
      kill "$pid"
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
    echo "Mail server stopped"
    ;;
  status)
    if pf_running && dv_running; then echo "running"; else echo "stopped"; exit 1; fi
    ;;
  env)
    print_env
    ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
