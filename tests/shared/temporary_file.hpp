#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace triserve::testing {

/// A file holding `text` in the temporary directory (a TOML configuration, say), removed again
/// at the end of the test. Shared by the unit and the integration tests.
class temporary_file {
 public:
  explicit temporary_file(const std::string& text, const std::string& suffix = ".toml")
      : path_(std::filesystem::temp_directory_path() /
              ("triserve-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) +
               suffix)) {
    std::ofstream(path_) << text;
  }
  ~temporary_file() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  temporary_file(const temporary_file&) = delete;
  temporary_file& operator=(const temporary_file&) = delete;

  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

}  // namespace triserve::testing
