# phase marks of python-regex_email__pymalloc__1.csv
MARKS = 0
