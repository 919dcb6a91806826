#include "support/commands.hpp"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <stdexcept>

namespace triserve::integration {

command_result run_command(const std::string& command, std::chrono::seconds limit) {
  if (command.find('\'') != std::string::npos)
    throw std::invalid_argument("run_command: no single quotes, please: " + command);
  const std::string bounded =
      "timeout " + std::to_string(limit.count()) + " sh -c '" + command + "' </dev/null 2>&1";
  command_result result;
  FILE* pipe = ::popen(bounded.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("run_command: popen failed: " + command);
  std::array<char, 4096> chunk;
  for (std::size_t got; (got = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0;)
    result.output.append(chunk.data(), got);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace triserve::integration
