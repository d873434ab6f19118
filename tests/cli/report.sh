#!/usr/bin/env bash
# tests/cli/report.sh — `pymemlab report DIR [--out FILE]`:
#  - on a small run's folder and on the repository's results/: the page is
#    written (via FILE.tmp and rename), holds the provenance, geometric-mean
#    and summary tables (intervals, "not distinguishable"), one <img> per
#    figure of DIR/plots (data: URIs only), validation and fidelity where
#    present, and no script, no URL to fetch;
#  - in a real headless browser (Debian's chromium): no console message at
#    all (a blocked fetch or a broken image logs one), the DOM holds the
#    tables and the figures, every image decodes (naturalWidth > 0, checked
#    in a copy of the page with a script added), and the screenshot is not
#    blank (tests/cli/pngcheck.py);
#  - bad input: one line, exit 2, nothing written, an existing page kept.
set -euo pipefail
: "${PYMEMLAB:?}" "${PM_SOURCE_DIR:?}"
source "$PM_SOURCE_DIR/tests/cli/lib.bash"
command -v gnuplot >/dev/null || fail "gnuplot missing (scripts/bootstrap.sh installs gnuplot-nox)"
command -v chromium >/dev/null || fail "chromium missing (scripts/bootstrap.sh installs Debian's chromium)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tiny=$PM_SOURCE_DIR/tests/suites/tiny.suite

"$PYMEMLAB" run --suite "$tiny" --backends pymalloc,system,null --reps 3 --out "$tmp/A" >"$tmp/run.out" 2>&1 \
  || fail "run: $(tail -3 "$tmp/run.out")"
"$PYMEMLAB" plot "$tmp/A" >/dev/null 2>"$tmp/plot.err" || fail "plot: $(cat "$tmp/plot.err")"
# validation and fidelity beside the folder (as results/ has them inside)
mkdir -p "$tmp/validation" "$tmp/fidelity"
printf 'Peak, MiB: native / predicted / error %%.\n\n| program | system |\n| --- | ---: |\n| sort_test | 26.5 / 26.6 / +0.4 |\n' >"$tmp/validation/table.md"
printf 'date 2026-12-07T03:07:21Z\ncommit abc1234\n' >"$tmp/validation/env.txt"
printf '# Fidelity\n\n| version | byte-identical |\n| --- | ---: |\n| 3.11 | 6 of 6 |\n' >"$tmp/fidelity/summary.md"

out=$("$PYMEMLAB" report "$tmp/A" 2>"$tmp/rep.err") || fail "report: exit $? $(cat "$tmp/rep.err")"
[ ! -s "$tmp/rep.err" ] || fail "report printed on stderr: $(cat "$tmp/rep.err")"
[[ "$out" == "report: $tmp/A/report.html ("*" figures)" ]] || fail "report: says '$out'"
[ ! -e "$tmp/A/report.html.tmp" ] || fail "report left its .tmp"

# the page's text: what it must hold and must not
check_page() {  # PAGE NFIG [validation]
  python3 - "$@" <<'PY'
import re, sys
page, nfig = sys.argv[1], int(sys.argv[2])
h = open(page, encoding="utf-8").read()
assert h.startswith("<!DOCTYPE html>"), "doctype"
assert "<script" not in h.lower(), "a script"
assert "Content-Security-Policy" in h and "img-src data:" in h, "no CSP"
srcs = re.findall(r'\s(?:src|href)="([^"]*)"', h)
assert all(s.startswith("data:image/") for s in srcs), [s[:40] for s in srcs if not s.startswith("data:")]
assert len(re.findall(r"<img ", h)) == nfig, (len(re.findall(r"<img ", h)), nfig)
for t in ("provenance", "geomean", "summary"):
    assert f'<table class="' in h and f'id="{t}"' in h, t
assert re.search(r"\d+\.\d <span class=\"ci\">\[\d+\.\d, \d+\.\d\]</span>", h), "no ns/op interval"
assert "baseline" in h and ("not distinguishable" in h or "faster" in h or "slower" in h), "no verdicts"
assert "1-minute load average" in h and "commit" in h, "provenance"
if len(sys.argv) > 3:
    assert 'id="validation"' in h and 'id="fidelity"' in h, "validation or fidelity missing"
    assert "<table class=\"md\">" in h, "a markdown table not rendered"
PY
}
nsvg=$(ls "$tmp"/A/plots/*.svg | wc -l)
check_page "$tmp/A/report.html" "$nsvg" validation || fail "page A"
grep -q '<td>sort_test</td><td>26.5 / 26.6 / +0.4</td>' "$tmp/A/report.html" || fail "validation table cells"
grep -q '<td class="num"><span class="na"' "$tmp/A/report.html" || fail "null's memory figures not shown as n/a"

# the repository's results/ (its plots, validation and fidelity inside it)
"$PYMEMLAB" report "$PM_SOURCE_DIR/results" --out "$tmp/results.html" >/dev/null || fail "report results/"
nres=$(( $(ls "$PM_SOURCE_DIR"/results/plots/*.svg | wc -l) + 1 ))
check_page "$tmp/results.html" "$nres" validation || fail "page of results/"

# ---- in the browser ----
browse() {  # PAGE TAG: dom, screenshot, console log in $tmp/TAG.*
  timeout 180 chromium --headless --disable-gpu --no-sandbox --user-data-dir="$tmp/chrome-$2" \
    --enable-logging=stderr --v=0 --window-size=1400,2400 --virtual-time-budget=10000 \
    --screenshot="$tmp/$2.png" --dump-dom "file://$1" >"$tmp/$2.dom" 2>"$tmp/$2.log" \
    || fail "chromium on $1: exit $? $(grep -v dbus "$tmp/$2.log" | tail -3)"
  ! grep ':CONSOLE' "$tmp/$2.log" || fail "console messages on $1"
}
for page in A results; do
  f=$tmp/$page.html
  [ $page = A ] && f=$tmp/A/report.html
  browse "$f" "$page"
  n=$([ $page = A ] && echo "$nsvg" || echo "$nres")
  python3 - "$tmp/$page.dom" "$n" <<'PY' || fail "DOM of $page"
import re, sys
d = open(sys.argv[1], encoding="utf-8").read()
assert len(re.findall(r"<img ", d)) == int(sys.argv[2]), "figures in the DOM"
assert len(re.findall(r"<table ", d)) >= 3 and 'id="summary"' in d, "tables in the DOM"
assert len(re.findall(r"<tr", d)) > 10, "rows"
PY
  read -r w h inked colors < <(python3 "$PM_SOURCE_DIR/tests/cli/pngcheck.py" "$tmp/$page.png")
  python3 -c "import sys; sys.exit(not (float('$inked') > 0.02 and int('$colors') > 20))" \
    || fail "$page: screenshot looks blank ($w x $h, inked $inked, $colors colors)"
  # every image decodes: a copy of the page without the CSP, with a script
  # that counts the images that failed
  sed -e 's|<meta http-equiv="Content-Security-Policy"[^>]*>||' \
      -e 's|</body>|<script>addEventListener("load",()=>{const b=[...document.images].filter(i=>!i.complete\|\|i.naturalWidth===0).length;document.body.setAttribute("data-broken",String(b));});</script></body>|' \
      "$f" >"$tmp/$page.probe.html"
  timeout 180 chromium --headless --disable-gpu --no-sandbox --user-data-dir="$tmp/chrome-p$page" \
    --virtual-time-budget=10000 --dump-dom "file://$tmp/$page.probe.html" >"$tmp/$page.probe.dom" 2>/dev/null \
    || fail "chromium probe on $page"
  grep -q 'data-broken="0"' "$tmp/$page.probe.dom" \
    || fail "$page: images that do not decode: $(grep -o 'data-broken="[^"]*"' "$tmp/$page.probe.dom")"
done
echo "ok: report in the browser"

# ---- bad input: one line, exit 2, nothing written ----
cp "$tmp/A/report.html" "$tmp/keep.html"
expect_usage_error "pymemlab: report: a results folder DIR is required" report
expect_usage_error "pymemlab: report: $tmp/nowhere is not a results folder (no results.jsonl)" report "$tmp/nowhere"
expect_usage_error "pymemlab: report: $tmp/validation is not a results folder (no results.jsonl)" report "$tmp/validation" --out "$tmp/keep.html"
expect_usage_error "pymemlab: report: one DIR expected, got '$tmp/A'" report "$tmp/A" "$tmp/A"
expect_usage_error "pymemlab: report: unknown option '--bogus'*" report "$tmp/A" --bogus
expect_usage_error "pymemlab: report: $tmp/missing/r.html: *" report "$tmp/A" --out "$tmp/missing/r.html"
expect_usage_error "pymemlab: report: $tmp/A: *" report "$tmp/A" --out "$tmp/A"
: >"$tmp/keep.html.tmp"
expect_usage_error "pymemlab: report: $tmp/keep.html*tmp*" report "$tmp/A" --out "$tmp/keep.html"
rm "$tmp/keep.html.tmp"
mkdir "$tmp/empty" && : >"$tmp/empty/results.jsonl"
expect_usage_error "pymemlab: report: $tmp/empty holds no results yet" report "$tmp/empty" --out "$tmp/e.html"
[ ! -e "$tmp/e.html" ] && [ ! -e "$tmp/missing" ] || fail "bad input wrote a file"
echo '{"workload": 1}' >"$tmp/empty/results.jsonl"
expect_usage_error "pymemlab: report: *results.jsonl*" report "$tmp/empty" --out "$tmp/e.html"
cmp -s "$tmp/keep.html" "$tmp/A/report.html" || fail "the page changed"
[ ! -e "$tmp/e.html" ] || fail "bad input wrote a page"
echo "ok: report bad input"
