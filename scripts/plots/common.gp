# scripts/plots/common.gp — what every pymemlab figure shares: the backend
# styles (by backend index, the same in every figure of a folder: a color,
# a marker shape and a dash pattern each, so that no line or point hides
# another), fonts, the stamp (commit, date, load: tics.gp's STAMP), and the
# two outputs. Loaded by the other scripts; `pymemlab plot` runs them in
# DIR/plots/data with `gnuplot -c SCRIPT OUTBASE ...`.
set encoding utf8
set datafile missing "?"
# a qualitative palette (Tableau 10, then 4 more), one color per backend
array PAL[14] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", \
                 "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39"]
# marker shapes, filled and hollow (circle, square, triangle, inverted
# triangle, diamond, pentagon); hollow means "not distinguishable"
array PTFA[6] = [7, 5, 9, 11, 13, 15]
array PTHA[6] = [6, 4, 8, 10, 12, 14]
ptf(i) = PTFA[(i - 1) % 6 + 1]
pth(i) = PTHA[(i - 1) % 6 + 1]
# dash patterns: solid, dashed, dotted, dash-dot, dash-dot-dot (gnuplot's 1-5)
do for [i=1:40] { d = (i - 1) % 5 + 1; set linetype i lc rgb PAL[(i-1)%14+1] lw 1.5 pt ptf(i) dt d }
PNG = "set terminal pngcairo size W,H font 'Sans,11' noenhanced background rgb 'white'"
SVG = "set terminal svg size W,H font 'Sans,11' dynamic noenhanced background rgb 'white'"
W = 1400
H = 720
# scripts/paper.sh sets PAPER_TERM (a `set terminal` line, e.g. pdfcairo):
# every figure is then one vector file, written where its PNG would be
if (exists("PAPER_TERM")) { PNG = PAPER_TERM; SVG = "set terminal unknown" }
if (exists("STAMP")) { set label 99 STAMP at screen 0.995, screen 0.012 right font ",9" tc rgb "#666666" }
