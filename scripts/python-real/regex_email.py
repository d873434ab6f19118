"""Generates e-mail messages (headers, multipart bodies), parses them with
the email package and scans the bodies with regular expressions.
Standard library only. PM_SCALE multiplies the number of messages."""
import sys
if sys.argv[1:] in (["-h"], ["--help"]):   # describe, run nothing
    print("scripts/python-real/regex_email.py: " + __doc__ + "\nRun by scripts/record-python.sh (recorded and timed).")
    sys.exit(0)
import email, os, random, re
from email import policy
from email.parser import Parser

scale = float(os.environ.get("PM_SCALE", "1"))
rng = random.Random(7)
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
addr = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
url = re.compile(r"https?://[^\s>]+")
parser = Parser(policy=policy.default)
found = 0
for i in range(int(600 * scale)):
    body = " ".join(rng.choice(words) for _ in range(rng.randrange(50, 300)))
    msg = (
        f"From: Sender {i} <sender{i}@example.org>\n"
        f"To: rcpt{i % 97}@example.com, other{i % 13}@example.net\n"
        f"Subject: message {i}: {rng.choice(words)} {rng.choice(words)}\n"
        f"Message-ID: <{i}.{rng.randrange(10**9)}@example.org>\n"
        f"MIME-Version: 1.0\n"
        f"Content-Type: multipart/alternative; boundary=\"b{i}\"\n\n"
        f"--b{i}\nContent-Type: text/plain; charset=utf-8\n\n{body}\nsee https://example.org/{i}\n"
        f"--b{i}\nContent-Type: text/html; charset=utf-8\n\n<p>{body}</p>\n--b{i}--\n"
    )
    m = parser.parsestr(msg)
    found += len(addr.findall(str(m["To"]))) + len(addr.findall(str(m["From"])))
    for part in m.walk():
        if part.get_content_maintype() == "text":
            text = part.get_content()
            found += len(url.findall(text))
            found += len(re.findall(r"\b(alpha|omega)\w*", text))
assert found > 0
