# phase marks of gen-fifo__pymalloc__1.csv
MARKS = 0
