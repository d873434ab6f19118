#!/usr/bin/env bash
# tests/cli/options.sh — the option tables (harness/cli/opts.h) and what comes
# from them cannot drift:
#  1. no command parses options outside a table (no getopt_long of its own);
#  2. every command of `pymemlab help` answers -h, --help and `help CMD` with
#     the same text, exit 0;
#  3. every option of every table (`pymemlab completion table`) is in its
#     command's --help with its default, is accepted by the real parser with
#     a good value (every value of an enum; a number's min and max), and a
#     bad value (not a number, out of range, not one of the enum's) is exit 2
#     with one line naming the option;
#  4. the bash completion (`pymemlab completion bash`), sourced in bash:
#     commands, subcommands, every option of every table, enum values, the
#     collectors and backends of the registries;
#  5. `backends --verbose` documents exactly the options each backend accepts
#     (every key with its default creates an instance; the keys a backend's
#     "unknown option" message lists are the documented ones).
set -euo pipefail
. "$(dirname "$0")/lib.bash"
src=${PM_SOURCE_DIR:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# ---- 1. one parser ----
own=$(grep -ln 'getopt_long *(\|struct option ' "$src"/harness/*/*.c | grep -v '/opts\.c$' || true)
[ -z "$own" ] || fail "options parsed outside the tables (harness/cli/opts.h) in: $own"

# ---- 2. help on every command ----
cmds=$("$PYMEMLAB" help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}' | grep -v '^help$')
for c in backends micro replay compare table gcbench objrun trace debugstats pyrun run plot merge report validate; do
  grep -qx "$c" <<<"$cmds" || fail "pymemlab help does not list $c"
done
for c in $cmds; do
  "$PYMEMLAB" help "$c" >"$tmp/help" || fail "help $c: exit $?"
  for flag in -h --help; do
    "$PYMEMLAB" "$c" $flag >"$tmp/h2" || fail "$c $flag: exit $?"
    cmp -s "$tmp/help" "$tmp/h2" || fail "$c $flag differs from 'help $c'"
  done
  head -1 "$tmp/help" | has "^usage: pymemlab $c\b" || fail "help $c: $(head -1 "$tmp/help")"
done

# ---- 3. every option of every table ----
"$PYMEMLAB" completion table >"$tmp/table" || fail "completion table: exit $?"
[ "$(wc -l <"$tmp/table")" -ge 80 ] || fail "completion table: only $(wc -l <"$tmp/table") options"
# the command line of a table's command name ("trace gen" -> two words)
accepts() {   # accepts "CMD" ARGS...: the parser took ARGS (it then stops at an unknown option)
  local cmd=$1; shift
  local rc=0 err
  # shellcheck disable=SC2086  # CMD is one or two words
  err=$("$PYMEMLAB" $cmd "$@" --zz-bogus 2>&1 >/dev/null) || rc=$?
  [ $rc = 2 ] && grep -q "unknown option '--zz-bogus'" <<<"$err" ||
    fail "pymemlab $cmd $* was not accepted by the parser: exit $rc: $err"
}
rejects() {   # rejects "CMD" OPT VALUE: exit 2, one line naming OPT
  local cmd=$1 opt=$2 val=$3
  local rc=0 err
  # shellcheck disable=SC2086
  err=$("$PYMEMLAB" $cmd "$opt" "$val" 2>&1 >/dev/null) || rc=$?
  [ $rc = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q -- "$opt" <<<"$err" ||
    fail "pymemlab $cmd $opt '$val': exit $rc, want 2 and one line naming $opt: $err"
}
n=0
# (fields split at \037: empty fields survive, as they would not at tabs)
tr '\t' '\037' <"$tmp/table" >"$tmp/table.us"
while IFS=$'\037' read -r -u 3 cmd name short type meta def values min max req; do
  n=$((n + 1))
  # shellcheck disable=SC2086
  "$PYMEMLAB" help $cmd >"$tmp/help"
  flat=$(tr -s ' \n' '  ' <"$tmp/help")
  grep -Eq "^  (-[a-zA-Z], )? *$name( |$)" "$tmp/help" || fail "help $cmd does not describe $name"
  [ -z "$def" ] || [ -n "$req" ] || grep -qF -- "[default: $(tr -s ' ' <<<"$def")]" <<<"$flat" ||
    fail "help $cmd: $name lacks its default '$def'"
  [ -z "$short" ] || grep -Eq "^  $short, $name\b" "$tmp/help" || fail "help $cmd: $name lacks $short"
  case $type in
  flag) accepts "$cmd" "$name"
        [ -z "$short" ] || accepts "$cmd" "$short" ;;
  count|size)
    accepts "$cmd" "$name" "$min"
    accepts "$cmd" "$name" "$max"
    [ -z "$short" ] || accepts "$cmd" "$short" "$min"
    rejects "$cmd" "$name" "abc"
    [ "$min" = 0 ] || rejects "$cmd" "$name" "$((min - 1))"
    [ "$max" = 18446744073709551615 ] || rejects "$cmd" "$name" "$(python3 -c "print($max + 1)")"
    ;;
  double)
    accepts "$cmd" "$name" "$min"
    accepts "$cmd" "$name" "$max"
    rejects "$cmd" "$name" "abc"
    rejects "$cmd" "$name" "$(python3 -c "print(repr($min - max(1e-3, abs($min))))")"
    ;;
  enum|gc)
    [ -n "$values" ] || fail "$cmd $name: an enum without values"
    for v in $values; do accepts "$cmd" "$name" "$v"; done
    rejects "$cmd" "$name" "zz-bad"
    ;;
  backend|backends) accepts "$cmd" "$name" system ;;
  string)
    v=${values%% *}
    accepts "$cmd" "$name" "${v:-x}" ;;
  file|dir) accepts "$cmd" "$name" "$tmp/x" ;;
  *) fail "$cmd $name: unknown type '$type'" ;;
  esac
done 3<"$tmp/table.us"
echo "ok: $n options checked against --help and the parser"

# ---- 4. bash completion ----
"$PYMEMLAB" completion bash >"$tmp/comp.bash" || fail "completion bash: exit $?"
cat >"$tmp/run.bash" <<EOF
source "$tmp/comp.bash"
comp() { COMP_WORDS=("\$@"); COMP_CWORD=\$((\$# - 1)); COMPREPLY=(); _pymemlab; printf '%s\n' "\${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ \$//'; }
EOF
compl() { bash -c "source '$tmp/run.bash'; comp $(printf '%q ' "$@")"; }
want() { local w=$1; shift; local got; got=$(compl "$@"); [ "$got" = "$w" ] || fail "completion of '$*': got '$got', want '$w'"; }
want "replay report" pymemlab rep
want "--latency-every" pymemlab replay --la
want "cold warm" pymemlab replay --mode ""
want "per-op windows" pymemlab replay --engine ""
want "gen" pymemlab trace g
want "--again --against" pymemlab trace gen --a
want "replay report" pymemlab help rep
want "bash table" pymemlab completion ""
want "buddy" pymemlab trace gen --against bu
got=$(compl pymemlab pyrun --gc "")
[ "$got" = "$("$PYMEMLAB" completion table | awk -F'\t' '$1 == "pyrun" && $2 == "--gc" {print $7}' | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')" ] &&
  grep -qw gen311 <<<"$got" && grep -qw pep848 <<<"$got" || fail "completion of --gc: $got"
want "pymalloc,segfit" pymemlab run --backends pymalloc,seg
got=$(compl pymemlab replay --backend "")
for b in pymalloc segfit buddy null system debug: lib:; do grep -qw -- "$b" <<<"$got" || fail "--backend completion lacks $b: $got"; done
: >"$tmp/zz-file.pmt"
want "$tmp/zz-file.pmt" pymemlab replay "$tmp/zz-f"
want "$tmp/zz-file.pmt" pymemlab replay --series "$tmp/zz-f"
want "$tmp/zz-file.pmt" pymemlab validate --reps 3 -- "$tmp/zz-f"
# every option of every table completes from its prefix
while IFS=$'\t' read -r -u 3 cmd name _; do
  # shellcheck disable=SC2086
  got=$(compl pymemlab $cmd "$name")
  grep -qw -- "$name" <<<"$got" || fail "completion: pymemlab $cmd $name<TAB> gives '$got'"
done 3<"$tmp/table"
bash -n "$tmp/comp.bash" || fail "the completion script is not valid bash"
echo "ok: completion"

# ---- 5. backends --verbose ----
"$PYMEMLAB" backends --verbose >"$tmp/bv"
"$PYMEMLAB" backends -v | cmp -s - "$tmp/bv" || fail "backends -v differs from --verbose"
expect_usage_error "pymemlab: backends: takes no arguments ('x')" backends -v x
# backend NAME -> its documented keys (the indented KEY=VALUE lines under it)
awk '/^[a-z]/ {b = $1; sub(/[,:].*/, "", b); next}
     /^    [a-z_]+=/ {k = $1; sub(/=.*/, "", k); print b, k}' "$tmp/bv" | sort -u >"$tmp/documented"
grep -q "^pymalloc preset$" "$tmp/documented" && grep -q "^segfit region$" "$tmp/documented" ||
  fail "backends --verbose lists no options: $(head -20 "$tmp/bv")"
for b in $(awk 'NR > 1 && /^[a-z]/ && !/[,:]/ && $2 == "available" {print $1}' "$tmp/bv"); do
  [ "$b" = lib ] && continue
  rc=0; err=$("$PYMEMLAB" micro --backend "$b,zz_bogus=1" --ops 1000 --reps 1 2>&1 >/dev/null) || rc=$?
  [ $rc = 2 ] || fail "$b,zz_bogus=1: exit $rc: $err"
  doc=$(awk -v b="$b" '$1 == b {print $2}' "$tmp/documented" | sort | tr '\n' ' ')
  if grep -q "takes no options" <<<"$err"; then
    [ -z "$doc" ] || fail "backends --verbose documents options of $b, which takes none: $doc"
  else
    known=$(sed -n 's/.*(known: \([^)]*\)).*/\1/p' <<<"$err" | tr -d ' ' | tr ',' '\n' | sort | tr '\n' ' ')
    [ -n "$known" ] && [ "$known" = "$doc" ] || fail "$b accepts '$known', backends --verbose documents '$doc'"
  fi
  # each documented key with its documented default makes an instance
  while read -r key def; do
    "$PYMEMLAB" micro --backend "$b,$key=$def" --ops 1000 --live 10 --reps 1 >/dev/null 2>"$tmp/err" ||
      fail "backends --verbose: $b,$key=$def is refused: $(cat "$tmp/err")"
  done < <(awk -v b="$b" '/^[a-z]/ {cur = $1; next}
                          cur == b && /^    [a-z_]+=/ {k = $1; sub(/=.*/, "", k); d = $0; sub(/.*\[default: /, "", d); sub(/\]$/, "", d); print k, d}' "$tmp/bv")
done
if [ -n "${PM_LIBBUMP:-}" ]; then
  grep -q "^lib name$" "$tmp/documented" || fail "backends --verbose: lib's name= is not documented"
  "$PYMEMLAB" micro --backend "lib:$PM_LIBBUMP,name=bump" --ops 1000 --live 10 --reps 1 >/dev/null ||
    fail "lib:PATH,name=bump refused"
fi
echo "ok: backends --verbose"
