# scripts/plots/validation.gp — predicted against native peak anonymous RSS
# (results/validation/points.dat, one block per allocator), with y = x and
# the 5% band. gnuplot -e "dir='results/validation'" scripts/plots/validation.gp
if (!exists("dir")) dir = 'results/validation'
allocs = system("cat ".dir."/allocators.txt")
set terminal pngcairo size 900,800 font ",11"
set output dir.'/predicted-vs-native.png'
set title "Does replay predict reality? Peak anonymous RSS, predicted vs native"
set xlabel "native peak (MiB, median of reps)"
set ylabel "predicted peak (MiB): replay footprint + measured non-heap"
set logscale xy
set grid
set key bottom right
offtxt = system("cat ".dir."/offscale.txt 2>/dev/null")
set label 1 offtxt at graph 0.02, graph 0.97 left font ",9"
set xtics (5, 10, 20, 50, 100, 200, 500)
set ytics (5, 10, 20, 50, 100, 200, 500)
set size square
stats dir.'/points.dat' using 1:2 nooutput
lo = (STATS_min_x < STATS_min_y ? STATS_min_x : STATS_min_y) * 0.8
hi = (STATS_max_x > STATS_max_y ? STATS_max_x : STATS_max_y) * 1.25
set xrange [lo:hi]
set yrange [lo:hi]
plot x with lines lc rgb "black" dt 1 title "y = x", \
     1.05*x with lines lc rgb "gray" dt 2 title "±5%", \
     0.95*x with lines lc rgb "gray" dt 2 notitle, \
     for [i=1:words(allocs)] dir.'/points.dat' index (i-1) using 1:2 with points pt 7 ps 1.3 title word(allocs, i)
