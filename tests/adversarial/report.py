#!/usr/bin/env python3
"""tests/adversarial/report.py - docs/reliability.md from the sweep's JSON.

usage: report.py OUT.md COMMAND RESULT.json...
Writes the machine, the date (UTC), the commit, the command that ran the
sweep, a table of outcomes per category for each build, the totals, and
every case whose outcome is neither clear-error nor ok, with what happened.
"""
import datetime
import json
import os
import platform
import subprocess
import sys

OUTCOMES = ["clear-error", "ok", "crash", "hang", "lost", "other"]


def main():
    if len(sys.argv) < 4 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2
    out, command, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    runs = [json.load(open(f)) for f in files]
    here = os.path.dirname(os.path.abspath(__file__))
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=here, capture_output=True,
                            text=True).stdout.strip()
    cpu = "?"
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip()
            break
    load = open("/proc/loadavg").read().split()[:3]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    L = []
    L.append("# Reliability: the adversarial sweep (issue 19)\n")
    L.append("Every case a careful, hostile user would try, run against the real binary "
             "(tests/adversarial/sweep.py: how each case is built and judged; "
             "`scripts/adversarial.sh` runs it on the release and the ASan+UBSan builds and "
             "rewrites this page; `ctest -R cli_adversarial` runs a fast subset).\n")
    L.append("Outcomes: **clear-error** exit 2, one line `pymemlab: ...` naming the problem, "
             "nothing created, no file that was there changed (by hash), no control byte echoed; "
             "**ok** the correct result, checked where the answer is known (op counts, round trips, "
             "complete and consistent results folders, whole outputs), or the exit 1 the case "
             "expects (out of memory, a full disk) with the reason on stderr and nothing lost; "
             "**crash** a signal, a sanitizer report, an exit code other than 0/1/2; "
             "**hang** the time limit (20 s for most cases) passed; **lost** a file that was there "
             "changed, results.csv and results.jsonl disagreeing, a result reported ok that is "
             "incomplete; **other** anything else, said below.\n")
    L.append("Machine: %s, %d CPUs, %s; load average at the end %s (other jobs were running: "
             "the timeouts are generous for that). Date: %s. Commit: %s.\n"
             % (cpu, os.cpu_count(), platform.platform(), " ".join(load), now, commit))
    L.append("Command: `%s`\n" % command)
    for r in runs:
        res = r["results"]
        cats = []
        for x in res:
            if x["cat"] not in cats:
                cats.append(x["cat"])
        L.append("## %s build\n" % r["label"])
        if r.get("commit"):
            L.append("Commit %s, started %s, %d s, load average at its end %s.\n"
                     % (r["commit"], r.get("start", "?"), r.get("secs", 0), " ".join(r.get("load", []))))
        L.append("| category | cases | " + " | ".join(OUTCOMES) + " |")
        L.append("| --- | ---: | " + " | ".join("---:" for _ in OUTCOMES) + " |")
        for c in cats + ["**total**"]:
            xs = res if c == "**total**" else [x for x in res if x["cat"] == c]
            L.append("| %s | %d | " % (c, len(xs)) + " | ".join(
                str(sum(1 for x in xs if x["outcome"] == o)) for o in OUTCOMES) + " |")
        L.append("")
        skipped = r.get("skipped", [])
        if skipped:
            L.append("Not run on this build: %s.\n" % "; ".join(skipped))
        bad = [x for x in res if x["outcome"] not in ("clear-error", "ok")]
        if bad:
            L.append("Cases that were neither a clear error nor a correct result:\n")
            for x in bad:
                L.append("- %s %d, %s, %s: `%s`: %s" % (x["outcome"], x["num"], x["cat"], x["name"],
                                                        " ".join(x["argv"])[:120], x["note"][:300]))
            L.append("")
        else:
            L.append("Every case was a clear error or a correct result.\n")
        chk = [x for x in res if x["outcome"] == "ok" and ("checked" in x["note"] or x["note"].startswith("exit 1")
                                                        or x["cat"] in ("signals", "two-runs"))]
        if r.get("old_notes"):
            L.append("(This run's notes predate the words 'the answer checked': its ok cases ran the same "
                     "checks as the release run's, but the count below cannot tell them apart.)\n")
        L.append("Of the %d ok cases, %d had their answer checked (a known result, a whole output, a complete "
                 "results folder, the expected failure reported); the other %d are inputs that are valid as "
                 "written (a text trace with CRLF lines, an mtrace log without its Start line, a results.csv "
                 "that --resume rebuilds from results.jsonl...), accepted with exit 0 and nothing lost.\n"
                 % (sum(1 for x in res if x["outcome"] == "ok"), len(chk),
                    sum(1 for x in res if x["outcome"] == "ok") - len(chk)))
        ok1 = [x for x in res if x["outcome"] == "ok" and x["note"].startswith("exit 1")]
        if ok1:
            L.append("Of the ok cases, %d are the exit 1 the case expects (a reported out-of-memory or "
                     "full-disk failure), e.g. `%s`.\n" % (len(ok1), ok1[0]["note"][len("exit 1 as expected: "):][:200]))
    open(out, "w").write("\n".join(L) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
