#include "triserve/http/request_parser.hpp"

#include "triserve/http/syntax.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

namespace triserve::http {

namespace {

using namespace syntax;

constexpr std::size_t npos = std::string_view::npos;

parse_result fail(int status, std::string_view reason) {
  return {parse_status::error, 0, status, reason};
}

/// The "no error" answer of the validating helpers below.
constexpr parse_result valid{};

bool is_error(const parse_result& r) {
  return r.status == parse_status::error;
}

/// Whether the request line (or its beginning) starts with nothing but tchar up to its first
/// space: the method, as far as it has arrived.
bool method_is_token(std::string_view line) {
  const std::string_view method = line.substr(0, std::min(line.find(' '), line.size()));
  return std::all_of(method.begin(), method.end(), is_tchar);
}

/// The checks that need no line end, made on `so_far`: a line from its first byte up to the last
/// one received, its LF excluded (a complete line is judged by them too, before anything else).
/// A failure here is final: no later byte changes it, so the same bytes get the same status
/// however they are split. No bare CR was found in the first `judged` bytes by an earlier call.
parse_result check_line_so_far(std::string_view so_far, std::size_t judged, bool request_line,
                               const parser_limits& limits) {
  // RFC 9112 §2.2: a CR not followed by LF is invalid; a final CR may still be half of a CRLF.
  // Byte by byte, the parse stops at the byte after a bare CR: judge the line as it stood then,
  // or what follows (a line grown too long) would decide instead. The search resumes where the
  // last one ended, at a CR that may now have a successor: a line arriving a byte at a time is
  // not searched again from its start for every byte.
  const std::size_t cr = so_far.find('\r', judged == 0 ? 0 : judged - 1);
  const bool bare_cr = cr != npos && cr + 1 < so_far.size();
  if (bare_cr) so_far = so_far.substr(0, cr + 2);
  if (request_line) {
    // The request line so far, less a CR that may yet turn out to be half of its CRLF.
    std::string_view line = so_far;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // A method is a token: TLS handshakes, HTTP/2 frames and other binary garbage are refused as
    // soon as their first bytes show it, not at the header timeout. Only as much of the method as
    // a whole line may hold is judged, so a bad method within the allowed length wins over the
    // length whatever has arrived.
    if (!method_is_token(line.substr(0, limits.max_request_line + 1))) {
      return fail(400, "invalid method");
    }
    if (line.size() > limits.max_request_line) return fail(414, "request line too long");
  }
  if (bare_cr) return fail(400, "bare CR in the request head");
  return valid;
}

/// The line that starts at `start` and ends with the LF at `lf`, without its LF or CRLF.
std::string_view line_at(std::string_view input, std::size_t start, std::size_t lf) {
  std::size_t end = lf;
  if (end > start && input[end - 1] == '\r') --end;
  return input.substr(start, end - start);
}

// RFC 3986 reg-name and IP-literal characters plus ':' for the port; a loose check that keeps
// whitespace, controls, '/', '@' and '#' out of what the handlers see as the host.
bool is_host_char(char c) {
  return is_alpha(c) || is_digit(c) || std::string_view("-._~!$&'()*+,;=:[]%").find(c) != npos;
}

bool is_host(std::string_view s) {
  return std::all_of(s.begin(), s.end(), is_host_char);
}

// RFC 9112 §3.2.3: authority-form = uri-host ":" port, for CONNECT only.
bool is_authority_form(std::string_view target) {
  const std::size_t colon = target.rfind(':');
  if (colon == npos || colon == 0) return false;
  const std::string_view host = target.substr(0, colon);
  const std::string_view port = target.substr(colon + 1);
  if (port.empty() || !std::all_of(port.begin(), port.end(), is_digit)) return false;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
  } else if (host.find_first_of(":[]") != npos) {
    return false;
  }
  return is_host(host);
}

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
bool is_scheme(std::string_view s) {
  if (s.empty() || !is_alpha(s.front())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
  });
}

/// The parts of a request line, kept apart from `request` so the line can be checked early
/// without touching the caller's request.
struct request_line {
  std::string_view method;
  std::string_view target;
  std::string_view path;
  std::string_view query;
  int version_minor = 1;
};

// RFC 9112 §3.2: which of the four forms the target has, and its path and query.
parse_result split_target(request_line& rl) {
  const std::string_view target = rl.target;
  if (rl.method == "CONNECT") {
    // RFC 9112 §3.2.3: CONNECT takes the authority-form and nothing else.
    if (!is_authority_form(target)) return fail(400, "invalid request target");
    // RFC 9110 §9.3.6: any 2xx would tell the client its tunnel is open. None of our servers
    // tunnels, for any target: RFC 9110 §15.6.2's 501 (not 405, whose Allow would have to name
    // methods of a resource this host:port is not). Refused here, at the end of the request line,
    // for every server alike; like any parse error it closes the connection, so the bytes meant
    // for the tunnel are never read as a request.
    return fail(501, "CONNECT is not supported: no server here tunnels");
  }
  if (target == "*") {
    // RFC 9112 §3.2.4: the asterisk-form is only for a server-wide OPTIONS.
    if (rl.method != "OPTIONS") return fail(400, "invalid request target");
    return valid;
  }
  std::string_view path_and_query = target;  // origin-form
  if (target.front() != '/') {
    // RFC 9112 §3.2.2: absolute-form. An empty authority or one with userinfo is refused
    // (RFC 9110 §4.2.4: userinfo in an http(s) URI is an error).
    const std::size_t scheme_end = target.find("://");
    if (scheme_end == npos || !is_scheme(target.substr(0, scheme_end))) {
      return fail(400, "invalid request target");
    }
    const std::string_view rest = target.substr(scheme_end + 3);
    const std::size_t authority_end = std::min(rest.find_first_of("/?"), rest.size());
    if (authority_end == 0 || !is_host(rest.substr(0, authority_end))) {
      return fail(400, "invalid request target");
    }
    // Without a path ("http://host?q") the path stays empty: a view cannot conjure the "/".
    path_and_query = rest.substr(authority_end);
  }
  // Go keeps a '#' in RawQuery; so do we, the target was never meant to carry a fragment.
  const std::size_t question = path_and_query.find('?');
  rl.path = path_and_query.substr(0, question);
  if (question != npos) rl.query = path_and_query.substr(question + 1);
  return valid;
}

// RFC 9112 §3: method SP request-target SP HTTP-version, single spaces and nothing more.
parse_result parse_request_line(std::string_view line, request_line& rl) {
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == npos ? npos : line.find(' ', sp1 + 1);
  if (sp2 == npos) return fail(400, "invalid request line");
  rl.method = line.substr(0, sp1);
  rl.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(rl.method)) return fail(400, "invalid method");
  if (rl.target.empty() || std::any_of(rl.target.begin(), rl.target.end(), is_ctl)) {
    return fail(400, "invalid request target");
  }
  // RFC 9112 §2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive.
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) ||
      version[6] != '.' || !is_digit(version[7])) {
    return fail(400, "invalid HTTP version");
  }
  // Checked before the target's form so that an HTTP/2 preface ("PRI * HTTP/2.0") gets a 505.
  if (version[5] != '1') return fail(505, "HTTP version not supported");
  rl.version_minor = version[7] - '0';
  return split_target(rl);
}

// RFC 9112 §5: field-name ":" OWS field-value OWS.
parse_result parse_field_line(std::string_view line, header_field& field) {
  // RFC 9112 §5.2 (obs-fold) and §2.2 (whitespace between the start line and the first field).
  if (is_ows(line.front())) return fail(400, "obs-fold not allowed");
  const std::size_t colon = line.find(':');
  if (colon == npos) return fail(400, "header line without colon");
  field.name = line.substr(0, colon);
  // RFC 9112 §5.1: whitespace between the name and the colon -> 400 (it is not a tchar).
  if (!is_token(field.name)) return fail(400, "invalid header name");
  field.value = trim_ows(line.substr(colon + 1));
  // RFC 9110 §5.5: CR, LF and NUL (and the other controls) are never valid in a value.
  if (std::any_of(field.value.begin(), field.value.end(),
                  [](char c) { return is_ctl(c) && c != '\t'; })) {
    return fail(400, "invalid header value");
  }
  return valid;
}

// RFC 9110 §8.6: Content-Length = 1*DIGIT, leading zeros allowed. Signs, spaces and lists
// ("5, 5") are refused outright, and so are values beyond 2^63-1, as Go does.
bool is_content_length(std::string_view v) {
  if (v.empty() || !std::all_of(v.begin(), v.end(), is_digit)) return false;
  const auto significant = v.find_first_not_of('0');
  if (significant == npos) return true;
  const std::string_view digits = v.substr(significant);
  constexpr std::string_view max_value = "9223372036854775807";
  return digits.size() < max_value.size() ||
         (digits.size() == max_value.size() && digits <= max_value);
}

std::uint64_t to_uint64(std::string_view digits) {
  std::uint64_t n = 0;
  for (char c : digits) n = n * 10 + static_cast<std::uint64_t>(c - '0');
  return n;
}

// RFC 9112 §6.1: the codings of every Transfer-Encoding field form one list, and we decode a
// lone "chunked" only.
parse_result check_transfer_codings(const std::vector<header_field>& headers) {
  std::size_t codings = 0;
  bool unknown = false;
  for (const header_field& field : headers) {
    if (!iequals(field.name, "Transfer-Encoding")) continue;
    for_each_element(field.value, [&](std::string_view coding) {
      ++codings;
      if (!iequals(coding, "chunked")) unknown = true;
    });
  }
  if (unknown) return fail(501, "unsupported transfer coding");
  // Empty, "chunked, chunked": chunked must be applied exactly once, last.
  if (codings != 1) return fail(400, "invalid Transfer-Encoding");
  return valid;
}

/// Derives host, framing, persistence and expectation from the fields of a complete head.
parse_result interpret_fields(request& req) {
  const bool http11 = req.version_minor >= 1;
  int hosts = 0;
  std::optional<std::string_view> content_length;
  bool transfer_encoding = false;
  bool close = false;
  bool keep_alive = false;
  bool expect_continue = false;

  for (const header_field& field : req.headers) {
    if (iequals(field.name, "Host")) {
      // RFC 9112 §3.2: more than one Host -> 400, whatever the version.
      if (++hosts > 1) return fail(400, "duplicate Host header");
      if (!is_host(field.value)) return fail(400, "invalid Host header");
    } else if (iequals(field.name, "Content-Length")) {
      if (!is_content_length(field.value)) return fail(400, "invalid Content-Length");
      // Repeats of the very same text are tolerated (Go does); any other difference is not.
      if (content_length && *content_length != field.value) {
        return fail(400, "conflicting Content-Length");
      }
      content_length = field.value;
    } else if (iequals(field.name, "Transfer-Encoding")) {
      transfer_encoding = true;
    } else if (iequals(field.name, "Connection")) {
      for_each_element(field.value, [&](std::string_view option) {
        if (iequals(option, "close")) close = true;
        if (iequals(option, "keep-alive")) keep_alive = true;
      });
    } else if (iequals(field.name, "Expect")) {
      // RFC 9110 §10.1.1: 100-continue is the only expectation defined; others MAY get 417.
      // An empty field expects nothing.
      if (field.value.empty()) continue;
      if (!iequals(field.value, "100-continue")) return fail(417, "unsupported expectation");
      expect_continue = true;
    }
  }

  if (hosts == 0 && http11) return fail(400, "missing Host header");

  req.keep_alive = http11 ? !close : keep_alive && !close;
  if (transfer_encoding) {
    // RFC 9112 §6.3: both TE and CL -> reject, request smuggling.
    if (content_length) return fail(400, "both Transfer-Encoding and Content-Length");
    if (parse_result r = check_transfer_codings(req.headers); is_error(r)) return r;
    req.framing = body_framing::chunked;
    // RFC 9112 §6.1: TE in an HTTP/1.0 request means faulty framing; close after it.
    if (!http11) req.keep_alive = false;
  } else if (content_length) {
    req.framing = body_framing::content_length;
    req.content_length = to_uint64(*content_length);
  }
  // RFC 9110 §10.1.1: a 100-continue in an HTTP/1.0 request is ignored.
  req.expect_continue = expect_continue && http11;
  return valid;
}

}  // namespace

void request_parser::restart() {
  scanned_ = 0;
  line_start_ = 0;
  request_line_start_ = 0;
  header_start_ = 0;
  fields_seen_ = 0;
}

parse_result request_parser::parse(std::string_view input, request& out) {
  if (scanned_ == 0 || scanned_ > input.size()) restart();
  // Where the last call stopped looking: the unfinished line was judged up to here.
  const std::size_t resumed = scanned_;

  // A finished parse forgets its progress, so handing the same bytes again gives the same answer.
  const auto finish = [this, input, &out](parse_result r) {
    // A head refused after its request line was accepted still says its method: the error
    // answering a HEAD must carry no content (RFC 9110 §9.3.2).
    if (r.status == parse_status::error && header_start_ != 0)
      out.method = input.substr(request_line_start_,
                                input.find(' ', request_line_start_) - request_line_start_);
    restart();
    return r;
  };

  // The head must end within max_header_bytes, so nothing past that is worth searching.
  const std::size_t limit = std::min(input.size(), limits_.max_header_bytes);
  while (scanned_ < limit) {
    const void* hit = std::memchr(input.data() + scanned_, '\n', limit - scanned_);
    if (hit == nullptr) {
      scanned_ = limit;
      break;
    }
    const auto lf = static_cast<std::size_t>(static_cast<const char*>(hit) - input.data());
    const std::string_view line = line_at(input, line_start_, lf);
    scanned_ = lf + 1;

    // First as it was judged while it arrived (or would have been, byte by byte): a bare CR
    // (line_at strips only the last CR), a bad method or an over-long request line gets the same
    // status whether or not its LF came in the same read.
    const std::string_view so_far = input.substr(line_start_, lf - line_start_);
    if (parse_result r = check_line_so_far(so_far, 0, header_start_ == 0, limits_); is_error(r)) {
      return finish(r);
    }
    if (header_start_ == 0) {
      if (!line.empty()) {
        // Checked as soon as it is whole: a bad request line is answered without waiting.
        request_line rl;
        if (parse_result r = parse_request_line(line, rl); is_error(r)) return finish(r);
        request_line_start_ = line_start_;
        header_start_ = scanned_;
      }
      // else RFC 9112 §2.2: an empty line before the request line is skipped.
    } else if (line.empty()) {
      return finish(parse_head(input.substr(0, scanned_), out));
    } else {
      // Each field line's syntax is checked as it ends too; the fields' meaning waits for the
      // whole head.
      header_field field;
      if (parse_result r = parse_field_line(line, field); is_error(r)) return finish(r);
      // Each field costs a slot in the request's vector: a head of thousands of tiny fields would
      // cost eight times its bytes. Apache's LimitRequestFields is the same 100; RFC 9110 §5.4
      // lets a server refuse a header section it finds too large with 431 (RFC 6585 §5).
      if (++fields_seen_ > limits_.max_header_fields)
        return finish(fail(431, "too many header fields"));
    }
    line_start_ = scanned_;
  }

  // The line still arriving is judged as far as it goes, not at the header timeout. Only up to
  // `scanned_`: past max_header_bytes nothing is looked at, whole or split.
  const std::string_view so_far = input.substr(line_start_, scanned_ - line_start_);
  const std::size_t judged = resumed > line_start_ ? resumed - line_start_ : 0;
  if (parse_result r = check_line_so_far(so_far, judged, header_start_ == 0, limits_);
      is_error(r)) {
    return finish(r);
  }
  if (input.size() >= limits_.max_header_bytes) {
    return finish(fail(431, "header section too large"));
  }
  return {};
}

parse_result request_parser::parse_head(std::string_view head, request& out) const {
  out.clear();
  request_line rl;
  // Already accepted when its line ended; parsed again for views into this very buffer.
  (void)parse_request_line(line_at(head, request_line_start_, header_start_ - 1), rl);
  out.method = rl.method;
  out.target = rl.target;
  out.path = rl.path;
  out.query = rl.query;
  out.version_minor = rl.version_minor;

  std::size_t start = header_start_;
  for (;;) {
    const std::size_t lf = head.find('\n', start);
    const std::string_view line = line_at(head, start, lf);
    if (line.empty()) break;
    header_field field;
    if (parse_result r = parse_field_line(line, field); is_error(r)) return r;
    out.headers.push_back(field);
    start = lf + 1;
  }

  if (parse_result r = interpret_fields(out); is_error(r)) return r;
  return {parse_status::complete, head.size(), 0, {}};
}

}  // namespace triserve::http
