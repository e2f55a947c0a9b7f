#!/bin/bash
# alternate glibc defaults vs fixed mmap threshold per row
cd /work/main
for round in 1 2; do
for row in sam2:8 vnet:1 sam1:1; do
  m=${row%%:*}; b=${row##*:}
  for cfg in default thr; do
    job="{\"kind\":\"step\",\"model\":\"$m\",\"batch\":$b,\"repeats\":3,\"cpuMemArena\":false,\"memPattern\":false}"
    if [ $cfg = thr ]; then export MALLOC_MMAP_THRESHOLD_=1048576; else unset MALLOC_MMAP_THRESHOLD_; fi
    out=$( { /usr/bin/time -f "TIME %U %S %M %e" node dist/bench/_trainRow.js "$job"; } 2>&1 | tr '\n' ' ')
    echo "round=$round row=$m/b$b cfg=$cfg load=$(cut -d' ' -f1 /proc/loadavg) $out"
  done
done
done
echo DONE
