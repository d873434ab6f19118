# scripts/plots/latency.gp OUTBASE — latency of one allocator call, sampled:
# per workload (groups) and backend (colors) a box from p50 to p99, a
# whisker to p99.9 and a cross at the max (medians over the runs). Data:
# latency.dat (pymemlab plot).
load 'tics.gp'
load system('dirname '.ARG0).'/common.gp'
set title "Latency of one allocator call (one call in 64 timed): box p50–p99, whisker to p99.9, × max — medians of the runs"
set ylabel "latency (log scale; the timer steps by 10 ns on the reference machine)"
set ytics ("1 ns" 1, "10 ns" 10, "100 ns" 100, "1 µs" 1000, "10 µs" 1e4, "100 µs" 1e5, "1 ms" 1e6, "10 ms" 1e7, "100 ms" 1e8, "1 s" 1e9)
set xlabel "workload"
set logscale y
set yrange [5:*]
set grid ytics mytics lc rgb "#dddddd"
eval WL_XTICS
set xtics rotate by -30 left nomirror
set xrange [-0.6:NW-0.4]
BW = 0.8 / NB
set boxwidth BW * 0.85 absolute
set style fill solid 0.7 border rgb "#333333"
set key outside right top vertical title "backend"
set bmargin 8
H = 820
eval PNG
set output ARG1.'.png'
plot for [b=0:NB-1] 'latency.dat' index b using 1:2:2:4:3 with candlesticks whiskerbars lt b+1 title word(BACKENDS, b+1), \
     for [b=0:NB-1] 'latency.dat' index b using 1:5 with points pt 2 ps 0.8 lt b+1 notitle
eval SVG
set output ARG1.'.svg'
replot
set output
