# phase marks of json__pymalloc__1.csv
set arrow 101 from first 7e-06, graph 0 to first 7e-06, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 101 "small" at first 7e-06, graph 0.930 left offset 0.3,0 font ",9" tc rgb "#555555" front
set arrow 102 from first 2.49945, graph 0 to first 2.49945, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 102 "large" at first 2.49945, graph 0.890 left offset 0.3,0 font ",9" tc rgb "#555555" front
set arrow 103 from first 3.49398, graph 0 to first 3.49398, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 103 "small" at first 3.49398, graph 0.970 left offset 0.3,0 font ",9" tc rgb "#555555" front
MARKS = 3
