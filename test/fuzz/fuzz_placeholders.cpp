// libFuzzer target for routing's placeholder substitution (core::routing::SubstitutePlaceholders), which
// reads deparsed SQL text: any text ends, literals and quoted identifiers are copied unchanged, and with
// an empty map the text comes back as it was.
#include <cstdint>
#include <map>
#include <string>

#include "core/routing.cpp"

namespace cr = strata::core::routing;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (cr::SubstitutePlaceholders(text, {}) != text) __builtin_trap();
  const std::map<int, std::string> with{{1, "x"}, {40001, "s.g1"}, {44001, "sum(s.c1)"}};
  (void)cr::SubstitutePlaceholders(text, with);
  return 0;
}
