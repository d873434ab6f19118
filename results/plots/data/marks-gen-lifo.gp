# phase marks of gen-lifo__pymalloc__1.csv
MARKS = 0
