# phase marks of build__pymalloc__1.csv
set arrow 101 from first 1e-06, graph 0 to first 1e-06, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 101 "lists" at first 1e-06, graph 0.930 left offset 0.3,0 font ",9" tc rgb "#555555" front
set arrow 102 from first 3.2251, graph 0 to first 3.2251, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 102 "concat" at first 3.2251, graph 0.890 left offset 0.3,0 font ",9" tc rgb "#555555" front
set arrow 103 from first 3.29309, graph 0 to first 3.29309, graph 1 nohead dt 3 lw 1 lc rgb "#777777" back
set label 103 "join" at first 3.29309, graph 0.970 left offset 0.3,0 font ",9" tc rgb "#555555" front
MARKS = 3
