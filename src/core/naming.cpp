// Names and quoting for generated SQL; see naming.hpp.
#include "core/naming.hpp"

#include <cstdint>
#include <cstdio>

namespace strata::core {

std::string QuoteIdent(std::string_view ident) {
  std::string out;
  out.reserve(ident.size() + 2);
  out.push_back('"');
  for (char c : ident) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string UnquoteIdent(std::string_view e) {
  if (e.size() < 2 || e.front() != '"' || e.back() != '"') return std::string(e);
  std::string name;
  for (size_t k = 1; k + 1 < e.size(); k++) {
    if (e[k] == '"') {
      if (k + 2 >= e.size() || e[k + 1] != '"') return std::string(e);  // a quote ends it early: not one name
      k++;
    }
    name += e[k];
  }
  return name;
}

std::string QualifiedName(std::string_view schema, std::string_view name) {
  return QuoteIdent(schema) + "." + QuoteIdent(name);
}

std::string QuoteLiteral(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  for (char c : text) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

uint32_t Fnv1a32(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string PartitionName(std::string_view parent, std::string_view suffix) {
  std::string name;
  if (parent.size() + 1 + suffix.size() <= kMaxIdentifierBytes) {
    name.append(parent).append("_").append(suffix);
    return name;
  }
  // Keep room for "_<8 hex>_<suffix>"; cut the parent at a UTF-8 character boundary.
  char tag[10];
  std::snprintf(tag, sizeof tag, "_%08x", Fnv1a32(parent));
  size_t keep = kMaxIdentifierBytes - (sizeof tag - 1) - 1 - suffix.size();
  if (keep > parent.size()) keep = parent.size();
  while (keep > 0 && keep < parent.size() && (static_cast<unsigned char>(parent[keep]) & 0xC0) == 0x80) keep--;
  name.append(parent.substr(0, keep)).append(tag).append("_").append(suffix);
  return name;
}

}  // namespace strata::core
