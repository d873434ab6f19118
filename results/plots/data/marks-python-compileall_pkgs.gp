# phase marks of python-compileall_pkgs__pymalloc__1.csv
MARKS = 0
