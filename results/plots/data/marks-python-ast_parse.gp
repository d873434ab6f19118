# phase marks of python-ast_parse__pymalloc__1.csv
MARKS = 0
