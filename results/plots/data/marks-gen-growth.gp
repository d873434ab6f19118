# phase marks of gen-growth__pymalloc__1.csv
MARKS = 0
