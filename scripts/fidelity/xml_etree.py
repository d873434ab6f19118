# xml: build a tree, serialise, parse back, query
import sys
if sys.argv[1:] in (["-h"], ["--help"]):   # describe, run nothing (run.py passes the path)
    print("scripts/fidelity/xml_etree.py: xml: build a tree, serialise, parse back, query. Run by scripts/fidelity.sh through scripts/fidelity/run.py.")
    sys.exit(0)
import xml.etree.ElementTree as ET
root = ET.Element("root")
for i in range(3000):
    e = ET.SubElement(root, "item", id=str(i), kind="k%d" % (i % 5))
    e.text = "value %d" % i
s = ET.tostring(root)
back = ET.fromstring(s)
hits = [e.get("id") for e in back.iter("item") if e.get("kind") == "k3"]
