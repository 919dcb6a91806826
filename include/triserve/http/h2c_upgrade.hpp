#pragma once

#include <optional>
#include <string>

#include "triserve/http/request.hpp"

namespace triserve::http {

/// The SETTINGS payload of an HTTP/1.1 request that asks to continue in HTTP/2 over cleartext
/// (RFC 7540 §3.2; RFC 9113 §3.1 deprecates the mechanism, which curl --http2 still uses): the
/// base64url-decoded HTTP2-Settings field, or nothing when the request does not ask, or asks
/// in a way that must not be honoured, in which case it is served as HTTP/1.1 like any other:
/// - `Upgrade` lists `h2c`, and `Connection` lists both `Upgrade` and `HTTP2-Settings`;
/// - exactly one HTTP2-Settings field, base64url without padding, whole 6-byte settings;
/// - HTTP/1.1 (RFC 9110 §7.8: Upgrade in an HTTP/1.0 request is ignored), an origin-form target;
/// - no request body: a body would have to be read as HTTP/1.1 while the response comes in
///   HTTP/2, which triserve does not do (Go's h2c does not either).
std::optional<std::string> h2c_upgrade_settings(const request& req);

}  // namespace triserve::http
