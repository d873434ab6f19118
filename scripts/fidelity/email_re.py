# email + re: build, parse and scan messages
import sys
if sys.argv[1:] in (["-h"], ["--help"]):   # describe, run nothing (run.py passes the path)
    print("scripts/fidelity/email_re.py: email + re: build, parse and scan messages. Run by scripts/fidelity.sh through scripts/fidelity/run.py.")
    sys.exit(0)
import email, re
from email.message import EmailMessage
addr = re.compile(r"[\w.]+@[\w.]+")
found = []
for i in range(600):
    m = EmailMessage()
    m["From"] = "a%d@example.org" % i
    m["To"] = "b%d@example.com, c%d@example.net" % (i, i)
    m["Subject"] = "message %d" % i
    m.set_content("Hello %d, see http://example.org/%d or mail d%d@example.org\n" % (i, i, i) * 5)
    p = email.message_from_string(m.as_string())
    found.extend(addr.findall(p.get_payload()))
