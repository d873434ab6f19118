# scripts/plots/gc.gp — the collector comparison's figures (scripts/gc-compare.sh,
# issue 20), from DIR/plots/ written by scripts/gc-table.py:
#   DIR/gc-pauses.png  one panel per workload: the distribution of collection
#                      pauses of rep 1 (fraction of collections with a pause at
#                      most x ms; log x), one line per collector
#   DIR/gc-held.png    one panel per workload: garbage held (bytes unreachable,
#                      not yet freed) over the run (millions of requests), one
#                      line per collector, rep 1
# Usage: gnuplot -e "dir='results/gc'" scripts/plots/gc.gp
load "scripts/plots/common.gp"
load dir."/plots/lists.gp"
nw = words(workloads)
ng = words(gcs)
W = 1400
H = 380 * ((nw + 1) / 2)
eval PNG
set output dir."/gc-pauses.png"
set multiplot layout ((nw + 1) / 2), 2 title "Collection pauses (rep 1): fraction of collections with a pause <= x"
set logscale x
set format x "%g"
set xlabel "pause (ms)"
set ylabel "fraction of collections"
set yrange [0:1.02]
set key bottom right
set grid
do for [i=1:nw] {
  w = word(workloads, i)
  set title w
  plot for [j=1:ng] dir."/plots/pausecdf-".w."-".word(gcs, j).".dat" using 1:2 with steps lt j title word(gcs, j), \
       for [j=1:ng] dir."/plots/pausecdf-".w."-".word(gcs, j).".dat" using 1:2 with points lt j pt 7 ps 0.4 notitle
}
unset multiplot
unset logscale x
set format x "% h"
set output dir."/gc-held.png"
set multiplot layout ((nw + 1) / 2), 2 title "Garbage held: bytes of objects unreachable but not yet freed (rep 1)"
set xlabel "requests made (millions)"
set ylabel "garbage held (MiB)"
set yrange [0:*]
set key top left
do for [i=1:nw] {
  w = word(workloads, i)
  set title w
  plot for [j=1:ng] dir."/plots/held-".w."-".word(gcs, j).".dat" using 1:2 with lines lt j title word(gcs, j)
}
unset multiplot
