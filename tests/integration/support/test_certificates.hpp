#pragma once

#include <string>

namespace triserve::integration {

/// A throwaway CA and certificates signed by it, made with the openssl command line
/// (make_certificates.sh) in a fresh temporary directory, which the destructor removes. Each file
/// is named for what a test does with it: server.pem/.key (P-256, for localhost, 127.0.0.1 and
/// ::1), renewed (another subject, for reloads), rsa, ed25519, expiring (in 3 days), expired,
/// fullchain.pem (server.pem then ca.pem), encrypted.key, not_pem.txt; ca.pem is the CA.
class test_certificates {
 public:
  /// Makes them all; throws std::runtime_error when openssl fails.
  test_certificates();
  ~test_certificates();
  test_certificates(const test_certificates&) = delete;
  test_certificates& operator=(const test_certificates&) = delete;

  /// The path of `name` in the directory: "server.pem" -> "/tmp/triserve-tls-XXXX/server.pem".
  std::string path(const std::string& name) const { return directory_ + "/" + name; }
  /// The directory, for files a test writes itself.
  const std::string& directory() const { return directory_; }

 private:
  std::string directory_;
};

}  // namespace triserve::integration
