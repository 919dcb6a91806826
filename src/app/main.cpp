#include "triserve/app/daemon.hpp"

int main(int argc, char** argv) {
  return triserve::app::run_daemon(argc, argv, {});
}
