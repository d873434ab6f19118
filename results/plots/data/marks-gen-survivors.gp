# phase marks of gen-survivors__pymalloc__1.csv
MARKS = 0
