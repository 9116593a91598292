# Tests driven by shell scripts rather than Check suites (included by tests/CMakeLists.txt):
#   exported_symbols   the shared library exports exactly the NNP_API functions of the public
#                      headers, nothing else, under the SONAME libnnprobe.so.<NNP_ABI>
#   install_consumers  `cmake --install` works and the installed package builds and runs a
#                      small program via pkg-config and via find_package(nnprobe CONFIG)
# Both inspect ELF shared objects, so they are registered on ELF platforms only.
if(WIN32 OR APPLE)
  message(STATUS "tests: exported_symbols and install_consumers need ELF; not registered")
  return()
endif()

find_program(NNP_SH_PROGRAM NAMES sh REQUIRED)
set(NNP_NM_PROGRAM "${CMAKE_NM}")
if(NOT NNP_NM_PROGRAM)
  set(NNP_NM_PROGRAM nm)
endif()
set(NNP_OBJDUMP_PROGRAM "${CMAKE_OBJDUMP}")
if(NOT NNP_OBJDUMP_PROGRAM)
  set(NNP_OBJDUMP_PROGRAM objdump)
endif()

# Sanitizer builds may add instrumentation symbols of their own; the check tolerates those.
if(NNP_SANITIZE)
  set(NNP_SANITIZED 1)
else()
  set(NNP_SANITIZED 0)
endif()
add_test(NAME exported_symbols
  COMMAND ${NNP_SH_PROGRAM} ${CMAKE_CURRENT_SOURCE_DIR}/check_exports.sh
          $<TARGET_FILE:nnprobe> libnnprobe.so.${NNP_ABI}
          ${PROJECT_SOURCE_DIR}/include/nnprobe ${PROJECT_BINARY_DIR}/include/nnprobe)
set_tests_properties(exported_symbols PROPERTIES
  LABELS script
  ENVIRONMENT "NM=${NNP_NM_PROGRAM};OBJDUMP=${NNP_OBJDUMP_PROGRAM};NNP_SANITIZED=${NNP_SANITIZED}")

# A sanitized library cannot be linked into an uninstrumented consumer, and the install path
# is the same as in the plain build, so this test runs in plain builds only.
if(NNP_SANITIZE)
  message(STATUS "tests: install_consumers not registered in a sanitizer build (NNP_SANITIZE=${NNP_SANITIZE})")
  return()
endif()
add_test(NAME install_consumers
  COMMAND ${NNP_SH_PROGRAM} ${CMAKE_CURRENT_SOURCE_DIR}/install/check-install.sh
          ${PROJECT_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/install-consumers
          ${CMAKE_INSTALL_LIBDIR} ${CMAKE_INSTALL_INCLUDEDIR} ${PROJECT_VERSION})
set_tests_properties(install_consumers PROPERTIES
  LABELS script
  TIMEOUT 600
  SKIP_RETURN_CODE 77
  ENVIRONMENT "CMAKE=${CMAKE_COMMAND};CC=${CMAKE_C_COMPILER};PKG_CONFIG=${PKG_CONFIG_EXECUTABLE};NNP_CONFIG=$<CONFIG>")
