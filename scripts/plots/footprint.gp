# scripts/plots/footprint.gp OUTBASE — peak footprint (anonymous RSS above
# the run's baseline) per workload and backend, median and min-max of the
# runs; the workload's peak live bytes (the same on every backend) as a
# black mark. Data: footprint.dat (pymemlab plot).
load 'tics.gp'
load system('dirname '.ARG0).'/common.gp'
set title sprintf("Peak footprint per workload — median of %d runs, bars min–max; black bar: peak live bytes requested", REPS)
set ylabel "MiB (log scale)"
set yrange [FP_YMIN:FP_YMAX]
set ytics ("0.01" 0.01, "0.02" 0.02, "0.05" 0.05, "0.1" 0.1, "0.2" 0.2, "0.5" 0.5, "1" 1, "2" 2, "5" 5, "10" 10, "20" 20, "50" 50, "100" 100, "200" 200, "500" 500, "1000" 1000, "2000" 2000, "5000" 5000, "10000" 10000)
set xlabel "workload"
set logscale y
set datafile columnheaders
set grid ytics mytics lc rgb "#dddddd"
set style data histograms
set style histogram errorbars gap 1.5 lw 1
set style fill solid 0.85 border rgb "#333333"
set bars front
set xtics rotate by -30 left nomirror
set key outside right top vertical title "backend"
set bmargin 8
# cluster k spans k-0.5+g .. k+0.5-g with g = gap/(NB+gap) / 2 around x = k
HALF = 0.5 * NB / (NB + 1.5)
eval PNG
set output ARG1.'.png'
plot for [i=0:NB-1] 'footprint.dat' using (column(2+3*i)):(column(3+3*i)):(column(4+3*i)):xtic(1) title columnhead(2+3*i) lt i+1, \
     'footprint.dat' using 0:(column(2+3*NB)):(HALF):(0) with vectors nohead lw 3 lc rgb "black" title "peak live bytes", \
     'footprint.dat' using ($0-HALF):(column(2+3*NB)):(2*HALF):(0) with vectors nohead lw 3 lc rgb "black" notitle
eval SVG
set output ARG1.'.svg'
replot
set output
