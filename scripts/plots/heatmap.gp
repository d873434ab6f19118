# scripts/plots/heatmap.gp OUTBASE NAME — NAME (frag4 or retention) per
# workload (rows) and backend (columns), the median of the runs written in
# each cell. Data: NAME.dat (pymemlab plot).
load 'tics.gp'
load system('dirname '.ARG0).'/common.gp'
NAME = ARG2
H = 120 + 34 * NW
W = 260 + 120 * NBM
if (NAME eq "frag4") {
    set title "frag4 = peak footprint / peak live bytes − 1 (median of the runs; lower is better; colors capped at 1.5)"
    set cbrange [0:1.5]
    set palette defined (0 "#f7fcf5", 0.3 "#a1d99b", 0.7 "#fdae6b", 1.5 "#b30000")
    set cblabel "frag4"
} else {
    set title "retention = footprint at the end / peak footprint (median of the runs; lower gives more back)"
    set cbrange [0:1]
    set palette defined (0 "#f7fbff", 0.5 "#9ecae1", 1 "#08306b")
    set cblabel "retention"
}
eval HEAT_XTICS
eval HEAT_YTICS
set xtics rotate by -30 left nomirror
set ytics nomirror
set xrange [-0.5:NBM-0.5]
set yrange [-0.5:NW-0.5]
set tics scale 0
set xlabel "backend"
set ylabel "workload"
set bmargin 8
unset key
eval PNG
set output ARG1.'.png'
set style fill solid 1.0 noborder
plot NAME.'.dat' using 1:2:(0.5):(0.5):3 with boxxyerror fc palette, \
     '' using 1:2:4:5 with labels tc rgb variable font ",10"
eval SVG
set output ARG1.'.svg'
replot
set output
