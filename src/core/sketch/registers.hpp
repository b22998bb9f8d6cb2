// HyperLogLog register kernels over the stored dense form, free of Postgres. Terms: the stored form
// packs four 6-bit registers into three bytes, little-endian (register 4k+j is bits 6j..6j+5 of bytes
// 3k..3k+2); the in-memory form is one byte per register. MaxPacked raises in-memory registers to the
// packed ones (a merge, or an unpack into zeros) and returns the largest packed register, so the caller
// can validate ranks in the same pass. It is the inner loop of merging stored sketches: 720 hourly
// sketches at precision 14 are 11.8 million registers, so on x86-64 it unpacks 32 registers per step
// with AVX2 or 16 with SSSE3 (byte shuffle into 32-bit lanes, three shifts and masks, byte max), chosen
// once by CPU; other CPUs take the scalar loop. All give identical results (unit-tested).
#pragma once
#include "core/no_postgres.hpp"

#include <cstddef>
#include <cstdint>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define STRATA_HAVE_SSSE3_KERNEL 1
#endif

namespace strata::core::sketch {

// m is a multiple of 4; packed holds m * 3 / 4 bytes.
inline uint8_t MaxPackedScalar(const uint8_t* packed, uint8_t* regs, size_t m, size_t from = 0) {
  uint8_t seen = 0;
  for (size_t i = from; i < m; i += 4) {
    const uint8_t* b = packed + i / 4 * 3;
    const uint32_t v = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16;
    for (int j = 0; j < 4; j++) {
      const uint8_t reg = static_cast<uint8_t>((v >> (6 * j)) & 63);
      seen = reg > seen ? reg : seen;
      regs[i + j] = reg > regs[i + j] ? reg : regs[i + j];
    }
  }
  return seen;
}

#ifdef STRATA_HAVE_SSSE3_KERNEL
__attribute__((target("ssse3"))) inline uint8_t MaxPackedSsse3(const uint8_t* packed, uint8_t* regs, size_t m) {
  const size_t bytes = m / 4 * 3;
  // Lane k of the shuffle holds bytes 3k, 3k+1, 3k+2 and a zero: one 24-bit group per 32-bit lane.
  const __m128i shuffle = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
  const __m128i m0 = _mm_set1_epi32(0x3F), m1 = _mm_set1_epi32(0x3F00), m2 = _mm_set1_epi32(0x3F0000),
                m3 = _mm_set1_epi32(0x3F000000);
  __m128i seen = _mm_setzero_si128();
  size_t i = 0;
  // Each step reads 16 bytes and uses 12: stop while 16 more bytes exist.
  for (; i / 4 * 3 + 16 <= bytes; i += 16) {
    const __m128i in = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed + i / 4 * 3));
    const __m128i lanes = _mm_shuffle_epi8(in, shuffle);
    // Register j of a lane is bits 6j..6j+5; shifting the lane left by 2j puts it in byte j.
    const __m128i r = _mm_or_si128(
        _mm_or_si128(_mm_and_si128(lanes, m0), _mm_and_si128(_mm_slli_epi32(lanes, 2), m1)),
        _mm_or_si128(_mm_and_si128(_mm_slli_epi32(lanes, 4), m2), _mm_and_si128(_mm_slli_epi32(lanes, 6), m3)));
    seen = _mm_max_epu8(seen, r);
    __m128i* dst = reinterpret_cast<__m128i*>(regs + i);
    _mm_storeu_si128(dst, _mm_max_epu8(_mm_loadu_si128(dst), r));
  }
  alignas(16) uint8_t lanes[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), seen);
  uint8_t top = MaxPackedScalar(packed, regs, m, i);
  for (uint8_t v : lanes) top = v > top ? v : top;
  return top;
}
#endif

#ifdef STRATA_HAVE_SSSE3_KERNEL
__attribute__((target("avx2"))) inline uint8_t MaxPackedAvx2(const uint8_t* packed, uint8_t* regs, size_t m) {
  const size_t bytes = m / 4 * 3;
  const __m256i shuffle = _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1,  //
                                           0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
  const __m256i m0 = _mm256_set1_epi32(0x3F), m1 = _mm256_set1_epi32(0x3F00), m2 = _mm256_set1_epi32(0x3F0000),
                m3 = _mm256_set1_epi32(0x3F000000);
  __m256i seen = _mm256_setzero_si256();
  size_t i = 0;
  // Each step uses 24 bytes (two 12-byte halves, one per 128-bit lane) and reads 28.
  for (; i / 4 * 3 + 28 <= bytes; i += 32) {
    const uint8_t* src = packed + i / 4 * 3;
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 12));
    const __m256i lanes = _mm256_shuffle_epi8(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1), shuffle);
    const __m256i r = _mm256_or_si256(
        _mm256_or_si256(_mm256_and_si256(lanes, m0), _mm256_and_si256(_mm256_slli_epi32(lanes, 2), m1)),
        _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi32(lanes, 4), m2),
                        _mm256_and_si256(_mm256_slli_epi32(lanes, 6), m3)));
    seen = _mm256_max_epu8(seen, r);
    __m256i* dst = reinterpret_cast<__m256i*>(regs + i);
    _mm256_storeu_si256(dst, _mm256_max_epu8(_mm256_loadu_si256(dst), r));
  }
  alignas(32) uint8_t lanes[32];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), seen);
  uint8_t top = MaxPackedScalar(packed, regs, m, i);
  for (uint8_t v : lanes) top = v > top ? v : top;
  return top;
}
#endif

inline uint8_t MaxPacked(const uint8_t* packed, uint8_t* regs, size_t m) {
#ifdef STRATA_HAVE_SSSE3_KERNEL
  static const int level = __builtin_cpu_supports("avx2") ? 2 : __builtin_cpu_supports("ssse3") ? 1 : 0;
  if (level == 2) return MaxPackedAvx2(packed, regs, m);
  if (level == 1) return MaxPackedSsse3(packed, regs, m);
#endif
  return MaxPackedScalar(packed, regs, m);
}

}  // namespace strata::core::sketch
