# phase marks of python-unittest_json__pymalloc__1.csv
MARKS = 0
