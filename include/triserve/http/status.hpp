#pragma once

#include <string_view>

namespace triserve::http {

/// The reason phrase of a status code ("OK", "Bad Request"...), "Unknown" for codes we never send.
std::string_view reason_phrase(int status);

}  // namespace triserve::http
