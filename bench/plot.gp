# req/s and p99 latency of the hello server against connection count.
#   gnuplot -e "datafile='connections.dat'; outfile='bench-connections.png'" bench/plot.gp
# datafile columns: conns, then rps and p99 (ms) for triserve, nginx, go, canned.
set terminal pngcairo size 1200,480 font "sans,10"
set output outfile
set multiplot layout 1,2 title "hello, keep-alive, wrk -t1 (server on one core): medians"
set logscale x 2
set xtics (1, 16, 64, 256, 1024)
set xlabel "connections"
set grid
set key bottom right
set style line 1 lc rgb "#d62728" lw 2 pt 7
set style line 2 lc rgb "#2ca02c" lw 2 pt 5
set style line 3 lc rgb "#1f77b4" lw 2 pt 9
set style line 4 lc rgb "#7f7f7f" lw 1 dt 2 pt 1
set ylabel "requests per second"
set yrange [0:*]
set format y "%.0s%c"
plot datafile using 1:2 with linespoints ls 1 title "triserve", \
     "" using 1:4 with linespoints ls 2 title "nginx", \
     "" using 1:6 with linespoints ls 3 title "Go", \
     "" using 1:8 with linespoints ls 4 title "canned (ceiling)"
set ylabel "p99 latency (ms)"
set logscale y 10
set yrange [*:*]
set format y "%g"
set key top left
plot datafile using 1:3 with linespoints ls 1 title "triserve", \
     "" using 1:5 with linespoints ls 2 title "nginx", \
     "" using 1:7 with linespoints ls 3 title "Go", \
     "" using 1:9 with linespoints ls 4 title "canned (ceiling)"
unset multiplot
