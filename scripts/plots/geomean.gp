# scripts/plots/geomean.gp OUTBASE — one figure for all workloads: per
# backend the geometric mean over the workloads of its time-per-call ratio
# to each workload's baseline, error bars a 95% bootstrap interval
# (figures.h); hollow where the interval holds 1 (not distinguishable from
# the baseline). Each label is centred on its own backend, above the
# interval for even positions and below it for odd ones, so that no label
# reaches a neighbour's marker. Data: geomean.dat (pymemlab plot).
load 'tics.gp'
load system('dirname '.ARG0).'/common.gp'
W = 200 + 110 * NB
W = W < 900 ? 900 : W
H = 620
set title sprintf("Geometric mean over the workloads of time per call ÷ the baseline's (%s)\n95%% bootstrap interval over the runs; hollow: holds 1, not distinguishable; below 1 is faster", BASELINE_NOTE)
set ylabel "geometric mean of ratios (log scale)"
set logscale y
set yrange [GEO_YMIN:GEO_YMAX]
set ytics ("0.05" 0.05, "0.1" 0.1, "0.2" 0.2, "0.3" 0.3, "0.5" 0.5, "0.7" 0.7, "0.8" 0.8, "0.9" 0.9, "1" 1, "1.1" 1.1, "1.25" 1.25, "1.5" 1.5, "2" 2, "3" 3, "5" 5, "10" 10)
set grid ytics lc rgb "#dddddd"
set xrange [-0.6:NB-0.05]
set xtics () nomirror rotate by -30 left
do for [b=1:NB] { set xtics add (word(BACKENDS, b) b-1) }
set arrow 1000 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "black" back
unset key
set bars 0.8
set bmargin 7
if (RATIOS == 0) { set label 97 sprintf("no ratio to draw: the baseline (%s) has no ok runs", BASELINE_NOTE) at graph 0.5, graph 0.75 center font ",13" }
eval PNG
set output ARG1.'.png'
plot for [b=0:NB-1] 'geomean.dat' using 1:(($1 == b && $5 == 1) ? $2 : NaN):3:4 with yerrorbars lt b+1 dt 1 pt ptf(b+1) ps 1.6, \
     for [b=0:NB-1] 'geomean.dat' using 1:(($1 == b && $5 == 0) ? $2 : NaN):3:4 with yerrorbars lt b+1 dt 1 pt pth(b+1) ps 1.6, \
     'geomean.dat' using 1:(int($1) % 2 != 0 ? $3 : NaN):(sprintf("%.2f [%.2f, %.2f]\n%d workloads", $2, $3, $4, $6)) with labels center offset 0,-1.9 font ",8", \
     'geomean.dat' using 1:(int($1) % 2 == 0 || $1 < 0 ? $4 : NaN):(sprintf("%.2f [%.2f, %.2f]\n%d workloads", $2, $3, $4, $6)) with labels center offset 0,1.9 font ",8"
eval SVG
set output ARG1.'.svg'
replot
set output
