# scripts/plots/memory.gp OUTBASE WORKLOAD FILES TITLES COLORS EVERY MARKS —
# memory over time on one workload: the footprint of each backend (its
# first ok run's series CSV) in the backend's own color, dash pattern and
# marker (markers shifted per backend so that lines on top of each other
# still show: a title "a(≈b)" says a's line is within 1% of the peak of b's throughout), the live
# bytes (the same request stream on every backend: drawn once), and the
# workload's phase marks as vertical lines (MARKS, a gnuplot file written by
# pymemlab plot). FILES, TITLES, COLORS, EVERY (step:first): word lists.
load 'tics.gp'
load system('dirname '.ARG0).'/common.gp'
load ARG7
set datafile separator ","
set title sprintf("%s: footprint (anonymous RSS above the baseline) over time, one line per backend\nblack dashed: live bytes requested%s; a(≈b): within 1%% of b's line throughout", ARG2, MARKS > 0 ? "; dotted verticals: the workload's phases" : "")
set xlabel "allocator calls (millions)"
set ylabel "MiB"
set grid lc rgb "#eeeeee"
set key outside right top vertical title "backend" Left reverse samplen 3
set yrange [0:*]
set autoscale xfix
set format x "%g"
set offsets 0, 0, graph 0.08, 0
N = words(ARG3)
st(i) = int(substr(word(ARG6, i), 1, strstrt(word(ARG6, i), ":") - 1))
fi(i) = int(substr(word(ARG6, i), strstrt(word(ARG6, i), ":") + 1, 99))
eval PNG
set output ARG1.'.png'
plot for [i=1:N] word(ARG3, i) every ::1 using ($1/1e6):($3/1048576) with lines lt int(word(ARG5, i)) lw 1.8 notitle, \
     for [i=1:N] word(ARG3, i) every st(i)::fi(i) using ($1/1e6):($3/1048576) with points lt int(word(ARG5, i)) ps 1.1 notitle, \
     for [i=1:N] NaN with linespoints lt int(word(ARG5, i)) lw 1.8 ps 1.1 title word(ARG4, i), \
     word(ARG3, 1) every ::1 using ($1/1e6):($2/1048576) with lines lw 2 dt 2 lc rgb "black" title "live bytes"
eval SVG
set output ARG1.'.svg'
replot
set output
