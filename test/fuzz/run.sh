#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan) and runs each for a bounded time from a seed
# corpus of valid sketches, keysets and column batches. Prints "fuzz-result: N passed, N failed". Usage: test/fuzz/run.sh [seconds]
set -u
cd "$(dirname "$0")/../.."
SECS=${1:-20}
OUT=build/fuzz
mkdir -p "$OUT"
pass=0
fail=0
# Seeds: valid sketches of each type, keysets and column batches, written by the helper below. Targets are single files
# (fuzz_keyset.cpp includes src/core/keyset.cpp).
g++ -std=c++17 -O1 -Isrc -o "$OUT/seeds" test/fuzz/seeds.cpp src/core/keyset.cpp src/core/columnar/codec.cpp -lzstd && "$OUT/seeds" "$OUT"
for t in hll qsketch topk keyset placeholders columnar; do
  if ! clang++-14 -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -Isrc -o "$OUT/fuzz_$t" "test/fuzz/fuzz_$t.cpp" -lzstd 2>"$OUT/build_$t.log"; then
    echo "not ok - fuzz_$t does not build"; tail -5 "$OUT/build_$t.log"; fail=$((fail + 1)); continue
  fi
  if "$OUT/fuzz_$t" -max_total_time="$SECS" -rss_limit_mb=1024 -artifact_prefix="$OUT/crash_$t-" \
      "$OUT/corpus_$t" >"$OUT/run_$t.log" 2>&1; then
    echo "ok - fuzz_$t: $(grep -o 'Done [0-9]* runs' "$OUT/run_$t.log")"; pass=$((pass + 1))
  else
    echo "not ok - fuzz_$t found a failure:"; grep -E "ERROR|SUMMARY|Test unit written" "$OUT/run_$t.log" | head -5
    fail=$((fail + 1))
  fi
done
echo "fuzz-result: $pass passed, $fail failed"
[ "$fail" = 0 ]
