# phase marks of web__pymalloc__1.csv
set arrow 101 from first 6e-05, graph 0 to first 6e-05, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 101 "warmup" at first 6e-05, graph 0.930 left offset 0.3,0 font ",9" tc rgb "#555555" front
set arrow 102 from first 2.70268, graph 0 to first 2.70268, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 102 "steady" at first 2.70268, graph 0.890 left offset 0.3,0 font ",9" tc rgb "#555555" front
set arrow 103 from first 5.00566, graph 0 to first 5.00566, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 103 "refill" at first 5.00566, graph 0.970 left offset 0.3,0 font ",9" tc rgb "#555555" front
MARKS = 3
