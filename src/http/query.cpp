#include "triserve/http/query.hpp"

#include "triserve/http/syntax.hpp"

namespace triserve::http {
using syntax::hex_value;

bool query_unescape(std::string_view text, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      // Go rejects a '%' without two hex digits after it ("%", "%4", "%zz").
      if (text.size() - i < 3) return false;
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return false;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return true;
}

bool first_query_value(std::string_view query, std::string_view key, std::string& out) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);

    // Go 1.17+ no longer splits on ';' but rejects (skips) any pair that contains one.
    if (pair.empty() || pair.find(';') != std::string_view::npos) continue;

    const std::size_t eq = pair.find('=');
    const std::string_view raw_key = pair.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);

    // Decoding into `out` reuses its capacity; a pair for another key never matters to Get,
    // so its value need not be validated.
    if (!query_unescape(raw_key, out) || out != key) continue;
    if (query_unescape(raw_value, out)) return true;
  }
  out.clear();
  return false;
}

}  // namespace triserve::http
