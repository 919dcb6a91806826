#include "support/json_object.hpp"

#include <cstdint>

namespace triserve::integration {

namespace {

/// A recursive-descent reader over one JSON text; every method returns false on a syntax error
/// after recording what was wrong.
class reader {
 public:
  explicit reader(std::string_view text) : text_(text) {}

  bool object(json_object& out) {
    skip_space();
    if (!take('{')) return fail("expected '{'");
    skip_space();
    if (take('}')) return end();
    for (;;) {
      std::string name;
      std::string value;
      skip_space();
      if (!string(name)) return false;
      skip_space();
      if (!take(':')) return fail("expected ':'");
      skip_space();
      if (!scalar(value)) return false;
      if (!out.emplace(name, value).second) return fail("member \"" + name + "\" repeated");
      skip_space();
      if (take('}')) return end();
      if (!take(',')) return fail("expected ',' or '}'");
    }
  }

  const std::string& error() const { return error_; }

 private:
  bool end() {
    skip_space();
    return at_ == text_.size() || fail("data after the object");
  }

  bool scalar(std::string& out) {
    if (peek() == '"') return string(out);
    for (const std::string_view word : {"true", "false", "null"}) {
      if (text_.substr(at_, word.size()) == word) {
        at_ += word.size();
        out = word;
        return true;
      }
    }
    if (peek() == '-' || is_digit(peek())) return number(out);
    return fail("expected a string, number, true, false or null");
  }

  // RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  bool number(std::string& out) {
    const std::size_t start = at_;
    take('-');
    if (peek() == '0') {
      ++at_;
    } else if (is_digit(peek())) {
      while (is_digit(peek())) ++at_;
    } else {
      return fail("bad number");
    }
    if (take('.')) {
      if (!is_digit(peek())) return fail("bad number fraction");
      while (is_digit(peek())) ++at_;
    }
    if (take('e') || take('E')) {
      if (!take('+')) take('-');
      if (!is_digit(peek())) return fail("bad number exponent");
      while (is_digit(peek())) ++at_;
    }
    out = text_.substr(start, at_ - start);
    return true;
  }

  bool string(std::string& out) {
    if (!take('"')) return fail("expected '\"'");
    for (;;) {
      if (at_ >= text_.size()) return fail("unterminated string");
      const auto byte = static_cast<unsigned char>(text_[at_]);
      if (byte == '"') {
        ++at_;
        return true;
      }
      if (byte < 0x20) return fail("raw control character in a string");
      if (byte == '\\') {
        ++at_;
        if (!escape(out)) return false;
        continue;
      }
      std::uint32_t code_point = 0;
      const std::size_t length = utf8_sequence(code_point);
      if (length == 0) return fail("invalid UTF-8");
      out.append(text_.substr(at_, length));
      at_ += length;
    }
  }

  bool escape(std::string& out) {
    if (at_ >= text_.size()) return fail("unterminated escape");
    const char c = text_[at_++];
    switch (c) {
      case '"':
        out.push_back('"');
        return true;
      case '\\':
        out.push_back('\\');
        return true;
      case '/':
        out.push_back('/');
        return true;
      case 'b':
        out.push_back('\b');
        return true;
      case 'f':
        out.push_back('\f');
        return true;
      case 'n':
        out.push_back('\n');
        return true;
      case 'r':
        out.push_back('\r');
        return true;
      case 't':
        out.push_back('\t');
        return true;
      case 'u':
        break;
      default:
        return fail(std::string("unknown escape \\") + c);
    }
    std::uint32_t code_point = 0;
    if (!hex4(code_point)) return false;
    if (code_point >= 0xdc00 && code_point <= 0xdfff) return fail("lone low surrogate");
    if (code_point >= 0xd800 && code_point <= 0xdbff) {
      std::uint32_t low = 0;
      if (!take('\\') || !take('u') || !hex4(low) || low < 0xdc00 || low > 0xdfff)
        return fail("high surrogate without its low half");
      code_point = 0x10000 + ((code_point - 0xd800) << 10) + (low - 0xdc00);
    }
    append_utf8(out, code_point);
    return true;
  }

  bool hex4(std::uint32_t& value) {
    value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = peek();
      int digit = -1;
      if (c >= '0' && c <= '9') digit = c - '0';
      if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
      if (digit < 0) return fail("bad \\u escape");
      value = value * 16 + static_cast<std::uint32_t>(digit);
      ++at_;
    }
    return true;
  }

  /// The length of the well-formed UTF-8 sequence at at_ (decoded into `code_point`), 0 if none.
  std::size_t utf8_sequence(std::uint32_t& code_point) const {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text_[at_ + i]); };
    const unsigned char lead = byte(0);
    std::size_t length = 0;
    if (lead < 0x80) {
      code_point = lead;
      return 1;
    }
    if ((lead & 0xe0) == 0xc0) {
      length = 2;
      code_point = lead & 0x1fu;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3;
      code_point = lead & 0x0fu;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4;
      code_point = lead & 0x07u;
    } else {
      return 0;
    }
    if (at_ + length > text_.size()) return 0;
    for (std::size_t i = 1; i < length; ++i) {
      if ((byte(i) & 0xc0) != 0x80) return 0;
      code_point = (code_point << 6) | (byte(i) & 0x3fu);
    }
    constexpr std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < smallest[length]) return 0;                 // overlong
    if (code_point >= 0xd800 && code_point <= 0xdfff) return 0;  // surrogate
    if (code_point > 0x10ffff) return 0;
    return length;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }
  bool take(char c) {
    if (peek() != c || at_ >= text_.size()) return false;
    ++at_;
    return true;
  }
  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r'))
      ++at_;
  }
  bool fail(std::string what) {
    if (error_.empty()) error_ = std::move(what) + " at byte " + std::to_string(at_);
    return false;
  }

  std::string_view text_;
  std::size_t at_ = 0;
  std::string error_;
};

}  // namespace

std::optional<json_object> parse_json_object(std::string_view text, std::string* error) {
  reader r(text);
  json_object object;
  if (r.object(object)) return object;
  if (error != nullptr) *error = r.error();
  return std::nullopt;
}

}  // namespace triserve::integration
