# phase marks of gen-churn__pymalloc__1.csv
MARKS = 0
