# phase marks of python-json_roundtrip__pymalloc__1.csv
MARKS = 0
