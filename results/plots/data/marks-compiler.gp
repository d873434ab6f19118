# phase marks of compiler__pymalloc__1.csv
set arrow 101 from first 0.000116, graph 0 to first 0.000116, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 101 "initial" at first 0.000116, graph 0.930 left offset 0.3,0 font ",9" tc rgb "#555555" front
set arrow 102 from first 2.23845, graph 0 to first 2.23845, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 102 "incremental" at first 2.23845, graph 0.890 left offset 0.3,0 font ",9" tc rgb "#555555" front
MARKS = 2
