# scripts/plots/throughput.gp OUTBASE — ns per allocator call relative to
# the baseline backend, per workload (clusters) and backend (bars): the
# ratio of median ns/op, error bars its 95% bootstrap interval (an interval
# that holds 1 is not distinguishable from the baseline). Data:
# throughput.dat (pymemlab plot).
load 'tics.gp'
load system('dirname '.ARG0).'/common.gp'
set title sprintf("Time per allocator call relative to the baseline %s — ratio of medians of %d runs, bars its 95%% interval (holds 1: not distinguishable); lower is faster", BASELINE_NOTE, REPS)
set ylabel "ns per call ÷ baseline's ns per call (log scale)"
set xlabel "workload"
set logscale y
set datafile columnheaders
set yrange [THR_YMIN:THR_YMAX]
set ytics ("0.01" 0.01, "0.02" 0.02, "0.05" 0.05, "0.1" 0.1, "0.2" 0.2, "0.3" 0.3, "0.5" 0.5, "0.7" 0.7, "1" 1, "1.5" 1.5, "2" 2, "3" 3, "5" 5, "7" 7, "10" 10, "20" 20, "50" 50, "100" 100)
set grid ytics mytics lc rgb "#dddddd"
set style data histograms
set style histogram errorbars gap 1.5 lw 1
set style fill solid 0.85 border rgb "#333333"
set bars front
set xtics rotate by -30 left nomirror
set key outside right top vertical title "backend"
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "black" front
set bmargin 8
eval PNG
set output ARG1.'.png'
plot for [i=0:NB-1] 'throughput.dat' using (column(2+3*i)):(column(3+3*i)):(column(4+3*i)):xtic(1) title columnhead(2+3*i) lt i+1
eval SVG
set output ARG1.'.svg'
replot
set output
