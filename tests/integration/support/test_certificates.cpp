#include "support/test_certificates.hpp"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace triserve::integration {

test_certificates::test_certificates() {
  std::string pattern = (std::filesystem::temp_directory_path() / "triserve-tls-XXXXXX").string();
  std::vector<char> writable(pattern.begin(), pattern.end());
  writable.push_back('\0');
  if (::mkdtemp(writable.data()) == nullptr)
    throw std::runtime_error("cannot make a temporary directory for test certificates");
  directory_ = writable.data();
  const std::string command =
      std::string("sh '") + TRISERVE_MAKE_CERTIFICATES + "' '" + directory_ + "'";
  if (std::system(command.c_str()) != 0) {
    std::filesystem::remove_all(directory_);
    throw std::runtime_error("make_certificates.sh failed: is openssl installed?");
  }
}

test_certificates::~test_certificates() {
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

}  // namespace triserve::integration
