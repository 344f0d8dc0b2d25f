# Shared helpers of the pipeline tests: real daemons on random loopback ports in a temp
# dir, waiting on conditions against deadlines (never a bare sleep), cleanup by pid.
# Source it; it sets T (temp dir) and an EXIT trap that stops everything it started.

set -uo pipefail
BIN=${L3_BIN_DIR:?L3_BIN_DIR not set}
SRC=${L3_SOURCE_DIR:?L3_SOURCE_DIR not set}
T=$(mktemp -d /tmp/l3-pipeline.XXXXXX)
PIDS=()

fail() {
  echo "FAIL: $*" >&2
  for f in "$T"/*.log; do
    [ -f "$f" ] || continue
    echo "--- tail of $f" >&2
    tail -n 15 "$f" >&2
  done
  exit 1
}

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null
  done
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "${BASH_SOURCE[0]}")/../ports.sh"

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 50 ms until it succeeds.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "timed out after ${secs}s waiting for: $what"
    sleep 0.05
  done
}

# start NAME CMD...: run in the background, log to $T/NAME.log, remember the pid in $NAME_PID.
start() {
  local name=$1
  shift
  "$@" >>"$T/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  printf -v "${name//-/_}_PID" '%s' "$pid"
}

alive() { kill -0 "$1" 2>/dev/null; }

# listening PORT: something accepts TCP on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Records in a datafile: one line each between the header and the footer.
record_lines() {
  local n
  n=$(grep -c '^<\(session\|command\|end\) ' "$1" 2>/dev/null) || true
  echo "${n:-0}"
}
# more_records_than FILE N: the datafile holds more than N records.
more_records_than() { [ "$(record_lines "$1")" -gt "$2" ]; }

# check_exactly_once DATAFILE AGENTS RECORDS: every agent's stream holds seq 1..RECORDS,
# each exactly once, and nothing else is there.
check_exactly_once() {
  local file=$1 agents=$2 records=$3
  awk -v agents="$agents" -v records="$records" '
    /^<(session|command|end) / {
      match($0, / agent="[^"]*"/); a = substr($0, RSTART + 8, RLENGTH - 9)
      match($0, / epoch="[0-9]+"/); e = substr($0, RSTART + 8, RLENGTH - 9)
      match($0, / seq="[0-9]+"/); s = substr($0, RSTART + 6, RLENGTH - 7)
      key = a "/" e
      if (++seen[key, s] > 1) { printf "duplicate: %s seq %s\n", key, s; bad = 1 }
      streams[key] = 1; count[key]++
      if (s + 0 > max[key]) max[key] = s + 0
    }
    END {
      n = 0
      for (k in streams) {
        n++
        if (count[k] != records || max[k] != records) {
          printf "stream %s: %d records, highest seq %d, want %d\n", k, count[k], max[k], records
          bad = 1
        }
      }
      if (n != agents) { printf "%d streams, want %d\n", n, agents; bad = 1 }
      exit bad
    }' "$file"
}

schema_valid() {
  xmllint --noout --relaxng "$SRC/proto/lilalo.rng" "$1" 2>"$T/xmllint.err" \
    || { head -n 5 "$T/xmllint.err" >&2; return 1; }
}
