#!/usr/bin/env bash
# deploy/front.sh: runs nginx in the foreground as the front of one or more
# entity-service instances (their REST ports), with deploy/nginx.conf.
#
#   deploy/front.sh --listen 0.0.0.0:8080 --upstream 127.0.0.1:8000,127.0.0.1:8001
#
# The config is rendered into a prefix directory of nginx's own (--prefix,
# else a new one under $TMPDIR), which also holds the pid file and the
# temporary directories: it runs as any user. Then the script execs nginx,
# so nginx is the process that receives signals: SIGTERM or SIGINT stop it
# at once, SIGQUIT gracefully (open requests finish), SIGHUP reloads.
# Errors go to stderr, the access log to stdout (--no-access-log: none).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
template="$here/nginx.conf"

listen=""
upstreams=""
prefix=""
max_body_bytes=65536 # the service's --max-body-bytes default (MAX_BODY_BYTES, src/config.rs)
header_timeout=10    # seconds
body_timeout=10      # seconds between two reads of a body
send_timeout=10      # seconds between two writes of an answer
read_timeout=5       # seconds an instance may take to answer (the service's deadline is 1 s)
workers=auto
access_log=1
which_only=0

usage() {
    cat <<EOF
Usage: deploy/front.sh --listen HOST:PORT --upstream HOST:PORT[,HOST:PORT...] [options]
       deploy/front.sh --which

Runs nginx (Debian's package: apt-get install nginx) in the foreground in
front of entity-service instances, with deploy/nginx.conf.

  --listen HOST:PORT         where the front listens (a port below 1024 needs root)
  --upstream LIST            the instances' REST addresses, comma-separated;
                             several are load-balanced (round robin)
  --prefix DIR               nginx's directory: rendered config, pid file,
                             temporary files (default: a new one under \$TMPDIR);
                             as root, its workers run as nobody and must reach it
  --max-body-bytes N         largest request body (default $max_body_bytes: the
                             service's default --max-body-bytes; keep them equal)
  --header-timeout SECONDS   a request head must arrive within (default $header_timeout)
  --body-timeout SECONDS     longest pause while a body arrives (default $body_timeout)
  --send-timeout SECONDS     longest pause while a client reads (default $send_timeout)
  --read-timeout SECONDS     an instance must answer within (default $read_timeout)
  --workers N|auto           nginx worker processes (default $workers)
  --no-access-log            no access log (default: one line per request on stdout)
  --which                    print the nginx that would run, and exit
                             (status 127 when there is none)

Environment: NGINX, the nginx binary (default: nginx on PATH, else /usr/sbin/nginx).
EOF
}

die() {
    echo "front.sh: error: $*" >&2
    exit 2
}

need_value() {
    (($# >= 2)) || die "$1 needs a value"
}

while (($# > 0)); do
    case "$1" in
    --listen) need_value "$@"; listen="$2"; shift ;;
    --upstream) need_value "$@"; upstreams="$2"; shift ;;
    --prefix) need_value "$@"; prefix="$2"; shift ;;
    --max-body-bytes) need_value "$@"; max_body_bytes="$2"; shift ;;
    --header-timeout) need_value "$@"; header_timeout="$2"; shift ;;
    --body-timeout) need_value "$@"; body_timeout="$2"; shift ;;
    --send-timeout) need_value "$@"; send_timeout="$2"; shift ;;
    --read-timeout) need_value "$@"; read_timeout="$2"; shift ;;
    --workers) need_value "$@"; workers="$2"; shift ;;
    --no-access-log) access_log=0 ;;
    --which) which_only=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done

# The nginx binary: $NGINX, else nginx on PATH, else Debian's /usr/sbin/nginx
# (not on a normal user's PATH). Exits 127 when there is none.
find_nginx() {
    nginx="${NGINX:-}"
    if [[ -z "$nginx" ]]; then
        nginx="$(command -v nginx || true)"
        [[ -n "$nginx" ]] || nginx=/usr/sbin/nginx
    fi
    if [[ ! -x "$nginx" ]]; then
        echo "front.sh: error: nginx not found ($nginx): install Debian's nginx" \
            "(apt-get install nginx) or set NGINX=/path/to/nginx" >&2
        exit 127
    fi
}

if ((which_only)); then
    find_nginx
    echo "$nginx"
    exit 0
fi

# HOST:PORT with a name, an IPv4 address or a bracketed IPv6 address.
address_re='^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$'
seconds_re='^[1-9][0-9]{0,5}$'
[[ -n "$listen" ]] || die "--listen HOST:PORT is required"
[[ -n "$upstreams" ]] || die "--upstream HOST:PORT[,HOST:PORT...] is required"
[[ "$listen" =~ $address_re ]] || die "--listen wants HOST:PORT, got '$listen'"
[[ "$max_body_bytes" =~ ^[1-9][0-9]{0,9}$ ]] || die "--max-body-bytes wants a positive integer, got '$max_body_bytes'"
for value in "$header_timeout" "$body_timeout" "$send_timeout" "$read_timeout"; do
    [[ "$value" =~ $seconds_re ]] || die "timeouts are whole seconds (1 or more), got '$value'"
done
[[ "$workers" == auto || "$workers" =~ ^[1-9][0-9]{0,3}$ ]] || die "--workers wants a number or auto, got '$workers'"

servers=""
IFS=, read -r -a upstream_list <<<"$upstreams"
for upstream in "${upstream_list[@]}"; do
    [[ "$upstream" =~ $address_re ]] || die "--upstream wants HOST:PORT[,HOST:PORT...], got '$upstream'"
    servers+="server $upstream max_fails=1 fail_timeout=5s;"$'\n        '
done

find_nginx

if [[ -z "$prefix" ]]; then
    prefix="$(mktemp -d "${TMPDIR:-/tmp}/entity-front.XXXXXX")"
    # Workers of a root master run as nobody and write temporary files here.
    chmod 0755 "$prefix"
fi
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

# As root, nginx's workers drop to nobody; as anyone else they run as that user.
user_line=""
if [[ "$(id -u)" == 0 ]]; then
    user_line="user nobody $(id -gn nobody);"
fi
access_line="access_log off;"
if ((access_log)); then
    access_line="access_log /dev/stdout front;"
fi

conf="$(<"$template")"
conf="${conf//@USER_LINE@/$user_line}"
conf="${conf//@WORKERS@/$workers}"
conf="${conf//@ACCESS_LOG@/$access_line}"
conf="${conf//@SERVERS@/$servers}"
conf="${conf//@LISTEN@/$listen}"
conf="${conf//@HEADER_TIMEOUT@/${header_timeout}s}"
conf="${conf//@BODY_TIMEOUT@/${body_timeout}s}"
conf="${conf//@SEND_TIMEOUT@/${send_timeout}s}"
conf="${conf//@READ_TIMEOUT@/${read_timeout}s}"
conf="${conf//@MAX_BODY_BYTES@/$max_body_bytes}"
printf '%s\n' "$conf" >"$prefix/nginx.conf"

echo "front.sh: nginx on $listen -> ${upstream_list[*]} (prefix $prefix)" >&2
exec "$nginx" -p "$prefix/" -c "$prefix/nginx.conf" -e stderr
