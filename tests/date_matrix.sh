#!/usr/bin/env bash
# Run the whole suite with the clock moved, to prove no test depends on today's date.
#
#   bash tests/date_matrix.sh [pytest args...]
#
# Three runs, each in a fresh embedded PostgreSQL that starts under the same fake clock
# (libfaketime is preloaded into every child process, so SQL now() moves too):
#   1. starting 3 minutes before a month boundary (2027-03-31 23:57 UTC, into April 1)
#   2. starting 3 minutes before New Year (2026-12-31 23:57 UTC, into 2027)
#   3. the real date, with TZ=Pacific/Kiritimati (UTC+14: the local date is a day ahead)
#
# Needs Debian's faketime (apt-get install faketime) and gcc. The offset is relative, so
# every process shares one wall clock that keeps running; monotonic clocks stay real
# (FAKETIME_DONT_FAKE_MONOTONIC=1: with a faked monotonic clock, Python's timed lock waits
# never return). libfaketime 0.9.10 then breaks Python's time.sleep (EINVAL from an absolute
# monotonic clock_nanosleep), so a small shim, built here, sends those sleeps to the kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST=${PYTEST:-.venv/bin/pytest}
LIBFAKETIME=${LIBFAKETIME:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}
[ -e "$LIBFAKETIME" ] || { echo "needs libfaketime: apt-get install faketime" >&2; exit 2; }

shim_dir=$(mktemp -d)
trap 'rm -rf "$shim_dir"' EXIT
cat > "$shim_dir/sleep.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem) {
    if (clock == CLOCK_MONOTONIC) {
        long r = syscall(SYS_clock_nanosleep, clock, flags, req, rem);
        return r == 0 ? 0 : errno;
    }
    int (*next)(clockid_t, int, const struct timespec *, struct timespec *) =
        dlsym(RTLD_NEXT, "clock_nanosleep");
    return next(clock, flags, req, rem);
}
EOF
gcc -shared -fPIC -O2 -o "$shim_dir/sleep.so" "$shim_dir/sleep.c" -ldl

offset_to() {  # seconds from now to the given UTC instant
  echo $(( $(date -u -d "$1" +%s) - $(date -u +%s) ))
}

faked() {  # env settings that move the wall clock by $1 seconds
  echo "LD_PRELOAD=$shim_dir/sleep.so:$LIBFAKETIME FAKETIME=+$1s FAKETIME_DONT_FAKE_MONOTONIC=1"
}

status=0
run() {
  local label=$1; shift
  echo "=== $label: $(env "$@" date -u '+%F %T UTC') (local: $(env "$@" date '+%F %T %Z'))"
  env "$@" "$PYTEST" -q -p no:cacheprovider "${ARGS[@]}" || status=1
}

ARGS=("$@")
# shellcheck disable=SC2046
run "month boundary" $(faked "$(offset_to "2027-03-31 23:57:00")")
# shellcheck disable=SC2046
run "new year's eve" $(faked "$(offset_to "2026-12-31 23:57:00")")
run "another time zone" TZ=Pacific/Kiritimati
exit $status
