"""scripts/validation/make-inputs.py DIR SCALE — the inputs of the validation
suite (scripts/validate.sh), written into DIR. Not measured: only the
programs that read them are. Deterministic (seeded). SCALE multiplies sizes."""
import sys
if sys.argv[1:2] in (["-h"], ["--help"]):
    print(__doc__)
    sys.exit(0)
import email.message
import email.policy
import glob
import json
import mailbox
import os
import random
import shutil
import sys

out, scale = sys.argv[1], float(sys.argv[2])
os.makedirs(out, exist_ok=True)
rnd = random.Random(1)
lib = "/usr/lib/python3.11"
srcs = sorted(glob.glob(lib + "/*.py")) + sorted(glob.glob(lib + "/*/*.py"))
words = open(lib + "/email/_header_value_parser.py", encoding="utf-8").read().split()

# compileall: a copy of nine standard-library packages
dst = os.path.join(out, "lib")
if not os.path.isdir(dst):
    for p in ["email", "json", "http", "logging", "xml", "asyncio", "importlib", "unittest", "concurrent",
              "multiprocessing", "tomllib", "urllib"]:
        shutil.copytree(os.path.join(lib, p), os.path.join(dst, p), ignore=shutil.ignore_patterns("__pycache__"))

# json.tool: one large document of nested records
n = int(60000 * scale)
doc = {"records": [{"id": i, "name": " ".join(rnd.choice(words) for _ in range(3)),
                    "tags": [rnd.choice(words) for _ in range(rnd.randint(1, 6))],
                    "score": rnd.random(), "nested": {"a": i % 7, "b": [i, i * 2, str(i)], "ok": i % 3 == 0}}
                   for i in range(n)]}
with open(os.path.join(out, "big.json"), "w") as f:
    json.dump(doc, f)

# re, pygments: standard-library sources concatenated
text = []
for s in srcs:
    text.append(open(s, encoding="utf-8", errors="replace").read())
alltext = "\n".join(text)
with open(os.path.join(out, "text.txt"), "w") as f:
    f.write(alltext * max(1, int(round(scale))))
with open(os.path.join(out, "big.py"), "w") as f:
    f.write(alltext[: int(900000 * scale)])

# xml: a catalogue of items
with open(os.path.join(out, "big.xml"), "w") as f:
    f.write("<?xml version='1.0' encoding='utf-8'?>\n<catalog>\n")
    for i in range(int(150000 * scale)):
        f.write('  <item id="%d" kind="%s"><name>%s</name><price>%.2f</price><tags>%s</tags></item>\n'
                % (i, rnd.choice(words).replace("<", "").replace("&", "").replace('"', ""),
                   " ".join(rnd.choice(words) for _ in range(3)).replace("<", "").replace("&", ""),
                   rnd.random() * 100, " ".join("t%d" % rnd.randint(0, 99) for _ in range(3))))
    f.write("</catalog>\n")

# email: an mbox of multipart messages
path = os.path.join(out, "mail.mbox")
if os.path.exists(path):
    os.remove(path)
mb = mailbox.mbox(path)
for i in range(int(1200 * scale)):
    m = email.message.EmailMessage(policy=email.policy.default)
    m["From"] = "User %d <user%d@example.org>" % (i, i)
    m["To"] = ", ".join("r%d@example.com" % rnd.randint(0, 999) for _ in range(3))
    m["Subject"] = " ".join(rnd.choice(words) for _ in range(6))
    m.set_content("\n".join(" ".join(rnd.choice(words) for _ in range(12)) for _ in range(40)))
    m.add_alternative("<html><body>%s</body></html>" % " ".join(rnd.choice(words) for _ in range(200)), subtype="html")
    m.add_attachment(bytes(rnd.getrandbits(8) for _ in range(2000)), maintype="application",
                     subtype="octet-stream", filename="a%d.bin" % i)
    mb.add(m)
mb.close()

# docutils: a reStructuredText document built from module docstrings
import pydoc  # noqa: E402
parts = ["================\nStandard library\n================\n"]
for s in srcs[: int(400 * scale)]:
    name = os.path.relpath(s, lib)
    body = open(s, encoding="utf-8", errors="replace").read()
    parts.append("%s\n%s\n\n" % (name, "=" * len(name)))
    parts.append("* size: %d bytes\n* lines: %d\n\n" % (len(body), body.count("\n")))
    for para in body.split("\n\n")[:30]:
        lines = [l.strip().replace("*", "").replace("`", "").replace("_", "").replace("|", "").replace("\\", "")
                 for l in para.splitlines() if l.strip() and not l.strip().startswith(("#", "..", "--", "=="))]
        if lines:
            parts.append(" ".join(lines)[:600] + "\n\n")
    parts.append("::\n\n" + "\n".join("    " + l for l in body.splitlines()[:40]) + "\n\n")
with open(os.path.join(out, "doc.rst"), "w") as f:
    f.write("".join(parts))
