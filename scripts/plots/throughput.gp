# scripts/plots/throughput.gp OUTBASE — ns per allocator call relative to
# the baseline backend, per workload (clusters) and backend (points): the
# ratio of median ns/op, error bars its 95% bootstrap interval; a hollow
# marker where the backend is not distinguishable from the baseline (their
# ns/op intervals overlap: not ranked). A log axis, so points, not bars.
# Data: throughput.dat (pymemlab plot).
load 'tics.gp'
load system('dirname '.ARG0).'/common.gp'
set title sprintf("Time per allocator call ÷ the baseline's (baseline: %s) — ratio of medians of %d runs, bars its 95%% interval; below 1 is faster", BASELINE_NOTE, REPS)
set ylabel "ns per call ÷ baseline's ns per call (log scale)"
set xlabel "workload"
set logscale y
set yrange [THR_YMIN:THR_YMAX]
set ytics ("0.01" 0.01, "0.02" 0.02, "0.05" 0.05, "0.1" 0.1, "0.2" 0.2, "0.3" 0.3, "0.5" 0.5, "0.7" 0.7, "1" 1, "1.5" 1.5, "2" 2, "3" 3, "5" 5, "7" 7, "10" 10, "20" 20, "50" 50, "100" 100)
set grid ytics lc rgb "#dddddd"
eval WL_XTICS
set xtics rotate by -30 left nomirror
set xrange [-0.6:NW-0.4]
do for [w=1:NW-1] { set arrow w from first w-0.5, graph 0 to first w-0.5, graph 1 nohead lc rgb "#d8d8d8" back }
set arrow 1000 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "black" back
set key outside right top vertical title "backend" Left reverse samplen 1.5
set bars 0.6
set bmargin 8
if (RATIOS == 0) { set label 97 sprintf("no ratio to draw: the baseline (%s) has no ok runs", BASELINE_NOTE) at graph 0.5, graph 0.75 center font ",13" }
eval PNG
set output ARG1.'.png'
plot for [b=0:NB-1] 'throughput.dat' index b using 1:($5 == 1 ? $2 : NaN):3:4 with yerrorbars lt b+1 dt 1 pt ptf(b+1) ps 1.1 title word(BACKENDS, b+1), \
     for [b=0:NB-1] 'throughput.dat' index b using 1:($5 == 0 ? $2 : NaN):3:4 with yerrorbars lt b+1 dt 1 pt pth(b+1) ps 1.1 notitle, \
     NaN with points pt 6 ps 1.1 lc rgb "black" title "hollow: not distinguishable", \
     NaN with points ps 0 lc rgb "white" title "from the baseline (the 95%", \
     NaN with points ps 0 lc rgb "white" title "intervals of ns/op overlap)"
eval SVG
set output ARG1.'.svg'
replot
set output
