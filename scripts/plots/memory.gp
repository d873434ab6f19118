# scripts/plots/memory.gp OUTBASE WORKLOAD FILES TITLES COLORS — memory over
# time on one workload: the footprint of each backend (its first ok run's
# series CSV), and the live bytes (the same request stream on every
# backend: drawn once). FILES, TITLES, COLORS: space-separated lists.
load 'tics.gp'
load system('dirname '.ARG0).'/common.gp'
set datafile separator ","
set title sprintf("%s: footprint (anonymous RSS above the baseline) over time, one line per backend; dashed: live bytes requested", ARG2)
set xlabel "allocator calls (millions)"
set ylabel "MiB"
set grid lc rgb "#dddddd"
set key outside right top vertical title "backend"
set yrange [0:*]
eval PNG
set output ARG1.'.png'
plot for [i=1:words(ARG3)] word(ARG3, i) every ::1 using ($1/1e6):($3/1048576) with lines lw 2 lt int(word(ARG5, i)) title word(ARG4, i), \
     word(ARG3, 1) every ::1 using ($1/1e6):($2/1048576) with lines lw 2 dt 2 lc rgb "black" title "live bytes"
eval SVG
set output ARG1.'.svg'
replot
set output
