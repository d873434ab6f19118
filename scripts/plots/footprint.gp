# scripts/plots/footprint.gp OUTBASE — peak footprint (anonymous RSS above
# the run's baseline) per workload (clusters) and backend (points), median
# and min–max of the runs; the workload's peak live bytes (the same on every
# backend) as a black line across its cluster. Backends without memory
# figures (null) are left out. A log axis, so points, not bars. Data:
# footprint.dat (pymemlab plot).
load 'tics.gp'
load system('dirname '.ARG0).'/common.gp'
set title sprintf("Peak footprint per workload — median of %d runs, bars min–max; black line: peak live bytes requested", REPS)
set ylabel "MiB (log scale)"
set yrange [FP_YMIN:FP_YMAX]
set ytics ("0.01" 0.01, "0.02" 0.02, "0.05" 0.05, "0.1" 0.1, "0.2" 0.2, "0.5" 0.5, "1" 1, "2" 2, "5" 5, "10" 10, "20" 20, "50" 50, "100" 100, "200" 200, "500" 500, "1000" 1000, "2000" 2000, "5000" 5000, "10000" 10000)
set xlabel "workload"
set logscale y
set grid ytics lc rgb "#dddddd"
eval WL_XTICS
set xtics rotate by -30 left nomirror
set xrange [-0.6:NW-0.4]
do for [w=1:NW-1] { set arrow w from first w-0.5, graph 0 to first w-0.5, graph 1 nohead lc rgb "#d8d8d8" back }
set key outside right top vertical title "backend" Left reverse samplen 1.5
if (strlen(NOMEM_NOTE) > 0) { set label 98 NOMEM_NOTE at screen 0.995, screen 0.012 right font ",9" tc rgb "#666666" }
set bars 0.6
set bmargin 8
eval PNG
set output ARG1.'.png'
plot for [k=0:NBM-1] 'footprint.dat' index k using 1:2:3:4 with yerrorbars lt int(word(MEM_LT, k+1)) dt 1 pt ptf(int(word(MEM_LT, k+1))) ps 1.1 title word(MEM_BACKENDS, k+1), \
     'footprint.dat' index NBM using ($1-0.42):2:(0.84):(0) with vectors nohead lw 2.5 dt 1 lc rgb "black" title "peak live bytes"
eval SVG
set output ARG1.'.svg'
replot
set output
