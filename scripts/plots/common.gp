# scripts/plots/common.gp — what every pymemlab figure shares: the backend
# colors (by backend index, the same in every figure of a folder), fonts,
# and the two outputs. Loaded by the other scripts; `pymemlab plot` runs
# them in DIR/plots/data with `gnuplot -c SCRIPT OUTBASE ...`.
set encoding utf8
set datafile missing "?"
# a qualitative palette (Tableau 10, then 4 more), one color per backend
array PAL[14] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", \
                 "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39"]
do for [i=1:14] { set linetype i lc rgb PAL[i] lw 1.5 pt 7 }
do for [i=15:40] { set linetype i lc rgb PAL[(i-1)%14+1] lw 1.5 pt 7 dt 2 }
PNG = "set terminal pngcairo size W,H font 'Sans,11' noenhanced background rgb 'white'"
SVG = "set terminal svg size W,H font 'Sans,11' dynamic noenhanced background rgb 'white'"
W = 1400
H = 720
