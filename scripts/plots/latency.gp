# scripts/plots/latency.gp OUTBASE — latency of one allocator call, sampled
# (one call in LAT_EVERY on average, at random): per workload (clusters)
# and backend (colors and markers) a marker at p50, a tick at p99, a bar up
# to p99.9 and a × at the max (medians over the runs). A 0 — the call took
# less than the timer's step once the timer's own cost is subtracted — is
# drawn on the "< resolution" row at the bottom, not at 0 (a log axis has
# none). Data: latency.dat (pymemlab plot).
load 'tics.gp'
load system('dirname '.ARG0).'/common.gp'
SAMPLED = LAT_EVERY > 0 ? sprintf("one call in %d timed, at random", LAT_EVERY) : "sampled calls"
set title sprintf("Latency of one allocator call (%s): marker p50, tick p99, bar to p99.9, × max — medians of %d runs", SAMPLED, REPS)
set ylabel "latency (log scale)"
set ytics ("1 ns" 1, "10 ns" 10, "100 ns" 100, "1 µs" 1000, "10 µs" 1e4, "100 µs" 1e5, "1 ms" 1e6, "10 ms" 1e7, "100 ms" 1e8, "1 s" 1e9)
set ytics add (sprintf("< %.0f ns (resolution)", LAT_RES) LAT_RES / 2)
set xlabel "workload"
set logscale y
set yrange [LAT_RES * 0.35:*]
set grid ytics lc rgb "#dddddd"
eval WL_XTICS
set xtics rotate by -30 left nomirror
set xrange [-0.6:NW-0.4]
do for [w=1:NW-1] { set arrow w from first w-0.5, graph 0 to first w-0.5, graph 1 nohead lc rgb "#d8d8d8" back }
set arrow 1000 from graph 0, first LAT_RES * 0.72 to graph 1, first LAT_RES * 0.72 nohead dt 2 lc rgb "#999999" back
set key outside right top vertical title "backend" Left reverse samplen 1.5 width 1
set bars 0
set bmargin 8
TW = 0.34 / NB
H = 820
W = 1400 + 25 * NW * NB / 9
W = W > 2400 ? 2400 : W
eval PNG
set output ARG1.'.png'
plot for [b=0:NB-1] 'latency.dat' index b using 1:2:2:4 with yerrorbars lt b+1 dt 1 lw 1.5 pt ptf(b+1) ps 0.9 title word(BACKENDS, b+1), \
     for [b=0:NB-1] 'latency.dat' index b using ($1-TW):3:(2*TW):(0) with vectors nohead lt b+1 dt 1 lw 2.5 notitle, \
     for [b=0:NB-1] 'latency.dat' index b using 1:5 with points pt 2 ps 0.7 lt b+1 notitle, \
     NaN with points pt 2 ps 0.7 lc rgb "black" title "× max"
eval SVG
set output ARG1.'.svg'
replot
set output
