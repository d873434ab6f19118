# scripts/plots/validation.gp — predicted against native peak anonymous RSS
# (results/validation/points.dat, one block per allocator), with y = x and
# the 5% band. gnuplot -e "dir='results/validation'" scripts/plots/validation.gp
if (!exists("dir")) dir = 'results/validation'
allocs = system("cat ".dir."/allocators.txt")
if (exists("PAPER_TERM")) { W = 900; H = 800; eval PAPER_TERM } else { set terminal pngcairo size 900,800 font ",11" }
set output dir.'/predicted-vs-native.png'
set title "Does replay predict reality? Peak anonymous RSS, predicted vs native"
set xlabel "native peak (MiB, median of reps)"
set ylabel "predicted peak (MiB): replay footprint + measured non-heap"
set logscale xy
set grid
set key bottom right
offtxt = system("cat ".dir."/offscale.txt 2>/dev/null")
# the stamp: commit, date and load of the validation run (env.txt)
stamp = system("awk '$1 == \"commit\" {c = $2} $1 == \"date\" {d = $2} $1 == \"loadavg\" {l = $2} END {printf \"pymemlab %s · %s · load %s\", c, d, l}' ".dir."/env.txt 2>/dev/null")
set label 2 stamp at screen 0.01, screen 0.985 left font ",8" tc rgb "#666666"
set label 1 offtxt at graph 0.02, graph 0.97 left font ",9"
set xtics (5, 10, 20, 50, 100, 200, 500)
set ytics (5, 10, 20, 50, 100, 200, 500)
set size square
# a marker shape per allocator as well as a color: none hides another
array PTS[6] = [7, 5, 9, 11, 13, 15]
stats dir.'/points.dat' using 1:2 nooutput
lo = (STATS_min_x < STATS_min_y ? STATS_min_x : STATS_min_y) * 0.8
hi = (STATS_max_x > STATS_max_y ? STATS_max_x : STATS_max_y) * 1.25
set xrange [lo:hi]
set yrange [lo:hi]
plot x with lines lc rgb "black" dt 1 title "y = x", \
     1.05*x with lines lc rgb "gray" dt 2 title "±5%", \
     0.95*x with lines lc rgb "gray" dt 2 notitle, \
     for [i=1:words(allocs)] dir.'/points.dat' index (i-1) using 1:2 with points pt PTS[(i-1)%6+1] ps 1.3 title word(allocs, i)
