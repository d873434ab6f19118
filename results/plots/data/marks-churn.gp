# phase marks of churn__pymalloc__1.csv
set arrow 101 from first 2e-05, graph 0 to first 2e-05, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 101 "ramp" at first 2e-05, graph 0.930 left offset 0.3,0 font ",9" tc rgb "#555555" front
set arrow 102 from first 0.189372, graph 0 to first 0.189372, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 102 "steady" at first 0.189372, graph 0.890 left offset 0.3,0 font ",9" tc rgb "#555555" front
set arrow 103 from first 2.08392, graph 0 to first 2.08392, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 103 "drain" at first 2.08392, graph 0.970 left offset 0.3,0 font ",9" tc rgb "#555555" front
MARKS = 3
