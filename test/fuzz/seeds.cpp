// Writes a seed corpus of valid sketches (small, sparse, dense; empty, signed; few, many items) and keysets
// (one table and two).
#include <cstdio>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "core/columnar/codec.hpp"
#include "core/keyset.hpp"
#include "core/sketch/hash.hpp"
#include "core/sketch/hll.hpp"
#include "core/sketch/qsketch.hpp"
#include "core/sketch/topk.hpp"

using namespace strata::core::sketch;

void WriteBytes(const std::string& dir, const std::string& name, const std::vector<uint8_t>& b) {
  mkdir(dir.c_str(), 0755);
  FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  std::fwrite(b.data(), 1, b.size(), f);
  std::fclose(f);
}

template <class S>
void Write(const std::string& dir, const std::string& name, S s) {
  std::vector<uint8_t> b;
  s.Serialize(&b);
  mkdir(dir.c_str(), 0755);
  FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  std::fwrite(b.data(), 1, b.size(), f);
  std::fclose(f);
}

int main(int, char** argv) {
  const std::string out = argv[1];
  for (int n : {1, 50, 5000}) {
    Hll h(n > 1000 ? 10 : 14);
    for (int i = 0; i < n; i++) h.AddHash(HashInt64(i));
    Write(out + "/corpus_hll", "n" + std::to_string(n), h);
    QSketch q;
    for (int i = 0; i < n; i++) q.Add(i % 3 == 0 ? -i : i * 1.5);
    Write(out + "/corpus_qsketch", "n" + std::to_string(n), q);
    TopK t(3);
    for (int i = 0; i < n; i++) t.Add(std::to_string(i % 17));
    Write(out + "/corpus_topk", "n" + std::to_string(n), t);
    // A keyset of n two-column keys, then the same followed by a one-column second table.
    namespace ks = strata::core::keyset;
    std::vector<int64_t> keys;
    for (int i = 0; i < n; i++) keys.insert(keys.end(), {i * 3600, i % 7 - 3});
    std::vector<uint8_t> k(ks::BytesFor(2, n, size_t{1} << 30));
    ks::Build(keys.data(), n, 2, k.data());
    WriteBytes(out + "/corpus_keyset", "n" + std::to_string(n), k);
    std::vector<uint8_t> aux(ks::BytesFor(1, 2, size_t{1} << 30));
    const int64_t firsts[] = {0, 3600};
    ks::Build(firsts, 2, 1, aux.data());
    k.insert(k.end(), aux.begin(), aux.end());
    WriteBytes(out + "/corpus_keyset", "aux" + std::to_string(n), k);
  }
  // Column batches of each kind (the first byte names the kind for fuzz_columnar): regular and random
  // integers with NULLs, floats, a dictionary and plain text large enough for zstd.
  namespace col = strata::core::columnar;
  for (int kind = 1; kind <= 3; kind++) {
    for (int n : {1, 200}) {
      col::Batch b;
      b.kind = col::Kind(kind);
      for (int i = 0; i < n; i++) {
        if (i % 13 == 5) b.AddNull();
        else if (kind == 1) b.AddInt(i % 7 == 0 ? int64_t(i) * 1000003 : int64_t(i) * 1000);
        else if (kind == 2) b.AddFloat(uint64_t(0x4034000000000000ull + uint64_t(i / 10) * 0x100000000ull));
        else b.AddBytes(n > 100 && i % 2 ? "label" + std::to_string(i % 4) : std::string(size_t(i % 40), 'q'));
      }
      std::vector<uint8_t> e = col::Encode(b);
      e.insert(e.begin(), uint8_t(kind - 1));
      WriteBytes(out + "/corpus_columnar", "k" + std::to_string(kind) + "n" + std::to_string(n), e);
    }
  }
  // Deparsed SQL as routing substitutes placeholders in (literals, identifiers, E'' strings).
  const std::string sql = "SELECT date_trunc('day'::text, $40000) AS \"$40001\", $44001 + $1 FROM t WHERE x = E'a\\'$1' AND y = 'it''s'";
  WriteBytes(out + "/corpus_placeholders", "sql", std::vector<uint8_t>(sql.begin(), sql.end()));
  return 0;
}
