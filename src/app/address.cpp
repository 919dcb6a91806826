#include "triserve/app/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <stdexcept>

namespace triserve::app {
namespace {

std::string quoted(std::string_view text) {
  std::string result;
  result.reserve(text.size() + 2);
  result.push_back('"');
  result.append(text);
  result.push_back('"');
  return result;
}

[[noreturn]] void reject(std::string_view text, std::string_view problem) {
  throw std::invalid_argument("invalid address " + quoted(text) + ": " + std::string(problem));
}

bool is_whitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

/// Only the literal's syntax is checked; inet_pton touches no network.
bool is_ipv6_literal(std::string_view host) {
  const std::string terminated(host);
  in6_addr parsed{};
  return inet_pton(AF_INET6, terminated.c_str(), &parsed) == 1;
}

std::uint16_t parse_port(std::string_view port, std::string_view text) {
  if (port.empty()) reject(text, "missing port after ':'");
  const bool all_digits =
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  // At most five digits keeps the arithmetic below from overflowing.
  unsigned value = 0;
  if (all_digits && port.size() <= 5) {
    for (const char c : port) value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (!all_digits || port.size() > 5 || value > 65535) {
    throw std::invalid_argument("invalid port " + quoted(port) + " in " + quoted(text) +
                                ": must be 0-65535");
  }
  return static_cast<std::uint16_t>(value);
}

std::string lowercase(std::string_view text) {
  std::string result(text);
  for (char& c : result)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return result;
}

/// Parses HOST:PORT, :PORT or [IPv6]:PORT, the part of `text` after any scheme.
listen_address parse_host_and_port(std::string_view where, std::string_view text) {
  if (where.empty()) reject(text, "expected HOST:PORT or :PORT");
  if (where.front() == '[') {
    const std::size_t close = where.find(']');
    if (close == std::string_view::npos) reject(text, "unclosed '['");
    const std::string_view host = where.substr(1, close - 1);
    if (!is_ipv6_literal(host)) reject(text, "brackets must hold an IPv6 address");
    const std::string_view rest = where.substr(close + 1);
    if (rest.empty() || rest.front() != ':') reject(text, "expected ':PORT' after ']'");
    return {std::string(host), parse_port(rest.substr(1), text)};
  }

  const std::size_t colon = where.rfind(':');
  if (colon == std::string_view::npos) reject(text, "expected HOST:PORT or :PORT");
  const std::string_view host = where.substr(0, colon);
  if (host.find(':') != std::string_view::npos) {
    reject(text, "IPv6 addresses need brackets, e.g. [::1]:7000");
  }
  if (!std::all_of(host.begin(), host.end(), is_host_char)) {
    reject(text, "host may hold only letters, digits, '-' and '.'");
  }
  return {std::string(host), parse_port(where.substr(colon + 1), text)};
}

}  // namespace

listen_address parse_listen_address(std::string_view text) {
  if (std::any_of(text.begin(), text.end(), is_whitespace)) {
    reject(text, "must not contain whitespace");
  }
  // A host holds no ':' or '/', so "://" anywhere can only follow a scheme.
  const std::size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return parse_host_and_port(text, text);
  const std::string_view scheme = text.substr(0, scheme_end);
  const std::string_view rest = text.substr(scheme_end + 3);
  if (rest.find("://") != std::string_view::npos) reject(text, "expected at most one scheme");
  if (scheme == "tls") {
    listen_address address = parse_host_and_port(rest, text);
    address.tls = true;
    return address;
  }
  // One spelling, the one the logs and --print-config write, so that a search for "tls://"
  // finds every TLS listener; the message says what to write instead.
  const std::string scheme_name = lowercase(scheme);
  const std::string suggestion = "tls://" + std::string(rest);
  if (scheme_name == "tls") reject(text, "write the scheme in lowercase: " + quoted(suggestion));
  // These name protocols spoken over the connection, not how to listen: HTTP/1.1 is spoken on
  // every listener, so the only choice an address makes is TLS or not.
  if (scheme_name == "https") reject(text, "for a TLS listener write " + quoted(suggestion));
  if (scheme_name == "http") {
    reject(text, "a cleartext listener takes no scheme: write " + quoted(std::string(rest)));
  }
  reject(text, "unknown scheme " + quoted(std::string(scheme) + "://") +
                   ": write HOST:PORT, or tls://HOST:PORT for TLS");
}

std::string to_string(const listen_address& address) {
  std::string text = address.tls ? "tls://" : "";
  const bool ipv6 = address.host.find(':') != std::string::npos;
  if (ipv6) text.push_back('[');
  text.append(address.host);
  if (ipv6) text.push_back(']');
  text.push_back(':');
  text.append(std::to_string(address.port));
  return text;
}

}  // namespace triserve::app
