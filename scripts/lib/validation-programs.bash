# scripts/lib/validation-programs.bash — the validation suite's programs
# (sourced by scripts/validate.sh and scripts/speed-vs-obmalloc.sh).
# The caller sets py (Debian's CPython 3.11), pyenv_py (a pyenv 3.11 with
# the test package, or empty) and W (the inputs made by
# scripts/validation/make-inputs.py).
# VALIDATION_PROGRAMS: every program, in order.
# Run rather than sourced (e.g. with --help): describe, define nothing, run nothing.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  awk 'NR > 0 && !/^#/ {exit} {sub(/^# ?/, ""); print}' "$0"
  exit 0
fi
VALIDATION_PROGRAMS="compileall json_tool ast_compile email_mbox xml_etree re_words unittest_json pygments_html docutils_html sort"
# cmd_of NAME: sets the array `c` to the program's command line (empty: not available here).
cmd_of() {
  c=()
  case $1 in
    compileall) c=("$py" -m compileall -q -f "$W/lib") ;;
    json_tool) c=("$py" -m json.tool "$W/big.json" "$W/out.json") ;;
    ast_compile) c=("$py" -c "import ast, glob
ts = [ast.parse(open(f, encoding='utf-8').read(), f) for f in sorted(glob.glob('/usr/lib/python3.11/*.py'))[::2]]
cs = [compile(t, '<ast>', 'exec') for t in ts]") ;;
    email_mbox) c=("$py" -c "import mailbox, email.policy
msgs = list(mailbox.mbox('$W/mail.mbox', factory=lambda f: email.message_from_binary_file(f, policy=email.policy.default)))
print(sum(len(m.get_body(('plain',)).get_content()) for m in msgs))") ;;
    xml_etree) c=("$py" -c "import xml.etree.ElementTree as ET
r = ET.parse('$W/big.xml').getroot()
print(len(r.findall('.//item')))") ;;
    re_words) c=("$py" -c "import re
t = open('$W/text.txt').read()
ws = re.findall(r'\w+', t)
print(len(ws), len(set(ws)))") ;;
    unittest_json) [ -n "$pyenv_py" ] && "$pyenv_py" -c 'import test.test_json' 2>/dev/null &&
      c=("$pyenv_py" -m unittest -q test.test_json) ;;
    pygments_html) c=("$py" -m pygments -f html -O full -o "$W/out.html" "$W/big.py") ;;
    docutils_html) "$py" -c 'import docutils' 2>/dev/null && c=("$py" -m docutils "$W/doc.rst" "$W/out2.html") ;;
    sort) c=(sort "$W/text.txt" -o "$W/sorted.txt") ;;
  esac
  return 0
}
