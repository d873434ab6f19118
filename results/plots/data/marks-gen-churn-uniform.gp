# phase marks of gen-churn-uniform__pymalloc__1.csv
MARKS = 0
