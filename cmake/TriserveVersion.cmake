# TRISERVE_VERSION_DESCRIPTION: the project version and, in a git checkout, the commit it was
# configured from, e.g. "0.1.0 (git 866a843)" or "0.1.0 (git 866a843-dirty)"; a source tarball
# gives just "0.1.0". Worked out at configure time, so a build tells which sources it came from.

include_guard(GLOBAL)

set(TRISERVE_VERSION_DESCRIPTION "${PROJECT_VERSION}")

find_package(Git QUIET)
# .git is a directory in a clone and a file in a worktree; either way git can answer.
if(GIT_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
  execute_process(
    COMMAND "${GIT_EXECUTABLE}" rev-parse --short HEAD
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
    OUTPUT_VARIABLE triserve_git_commit
    OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET
    RESULT_VARIABLE triserve_git_result)
  if(triserve_git_result EQUAL 0 AND triserve_git_commit)
    # Untracked files (build trees, editor backups) do not change what gets compiled.
    execute_process(
      COMMAND "${GIT_EXECUTABLE}" status --porcelain --untracked-files=no
      WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
      OUTPUT_VARIABLE triserve_git_changes
      OUTPUT_STRIP_TRAILING_WHITESPACE
      ERROR_QUIET)
    if(triserve_git_changes)
      string(APPEND triserve_git_commit "-dirty")
    endif()
    set(TRISERVE_VERSION_DESCRIPTION "${PROJECT_VERSION} (git ${triserve_git_commit})")

    # A commit or a checkout moves HEAD or the branch it names: configure again then, so the
    # binary never reports a commit it was not built from. Edits alone do not re-run this, so
    # "-dirty" is only as fresh as the last configure.
    execute_process(
      COMMAND "${GIT_EXECUTABLE}" rev-parse --path-format=absolute --git-path HEAD
      WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
      OUTPUT_VARIABLE triserve_git_head
      OUTPUT_STRIP_TRAILING_WHITESPACE
      ERROR_QUIET)
    execute_process(
      COMMAND "${GIT_EXECUTABLE}" symbolic-ref -q HEAD
      WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
      OUTPUT_VARIABLE triserve_git_branch
      OUTPUT_STRIP_TRAILING_WHITESPACE
      ERROR_QUIET)
    set(triserve_git_watched "${triserve_git_head}")
    if(triserve_git_branch)
      execute_process(
        COMMAND "${GIT_EXECUTABLE}" rev-parse --path-format=absolute --git-path
                "${triserve_git_branch}"
        WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
        OUTPUT_VARIABLE triserve_git_ref
        OUTPUT_STRIP_TRAILING_WHITESPACE
        ERROR_QUIET)
      list(APPEND triserve_git_watched "${triserve_git_ref}")
    endif()
    foreach(file IN LISTS triserve_git_watched)
      # A packed ref has no file of its own; depending on a missing file would re-configure on
      # every build.
      if(EXISTS "${file}")
        set_property(DIRECTORY "${PROJECT_SOURCE_DIR}" APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                                                                       "${file}")
      endif()
    endforeach()
  endif()
endif()

message(STATUS "triserve version: ${TRISERVE_VERSION_DESCRIPTION}")
