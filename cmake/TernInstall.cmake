# SPDX-License-Identifier: Apache-2.0
# `cmake --install` lays out what a firmware project consumes:
#   include/tern/...            public headers (+ include/tern/port/ for the port)
#   lib/libtern*.a              the library and this build's port
#   lib/cmake/tern/             find_package(tern) with imported targets tern::tern, tern::port_<port>
#   lib/pkgconfig/tern.pc       pkg-config for the library and the port
# and for the Cortex-M port also the startup objects, the linker script,
# tern_cortex_m_executable() and bin/tern-qemu-run.
include(CMakePackageConfigHelpers)

set(_tern_targets tern tern_norsim)
if(TERN_PORT STREQUAL "posix")
  list(APPEND _tern_targets tern_port_posix)
  set(TERN_PORT_TARGET port_posix)
  set(TERN_PORT_LIB tern_port_posix)
  # the port's TLS, and dlopen and a mutex for the PKCS#11 key store
  set(TERN_PORT_EXTRA_LIBS "-lmbedtls -lmbedx509 -lmbedcrypto -ldl -lpthread")
else()
  # The startup objects are an OBJECT library: exported, they link into the
  # user's executable as objects, exactly as in-tree.
  list(APPEND _tern_targets tern_port_cortex_m tern_cm_startup)
  set(TERN_PORT_TARGET port_cortex_m)
  set(TERN_PORT_LIB tern_port_cortex_m)
  set(TERN_PORT_EXTRA_LIBS "")
endif()

install(TARGETS ${_tern_targets} EXPORT ternTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  OBJECTS DESTINATION ${CMAKE_INSTALL_LIBDIR}/tern-objects
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/tern DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/ports/common/tern_norsim.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tern/port)
if(EXISTS ${PROJECT_SOURCE_DIR}/ports/${TERN_PORT}/include/tern)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/ports/${TERN_PORT}/include/tern
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()

set(_tern_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/tern)
if(TERN_PORT STREQUAL "cortex-m")
  install(FILES ${TERN_CM_LINKER_SCRIPT} DESTINATION ${_tern_cmake_dir})
  install(FILES ${PROJECT_SOURCE_DIR}/cmake/TernCortexM.cmake DESTINATION ${_tern_cmake_dir})
  install(PROGRAMS ${PROJECT_SOURCE_DIR}/ports/cortex-m/qemu-run.sh DESTINATION ${CMAKE_INSTALL_BINDIR}
    RENAME tern-qemu-run)
endif()
install(EXPORT ternTargets NAMESPACE tern:: DESTINATION ${_tern_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ternConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ternConfig.cmake INSTALL_DESTINATION ${_tern_cmake_dir})
# 0.x: a minor bump may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ternConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ternConfig.cmake ${PROJECT_BINARY_DIR}/ternConfigVersion.cmake
  DESTINATION ${_tern_cmake_dir})

# The .pc file finds its prefix relative to itself, so the install can be moved.
file(RELATIVE_PATH TERN_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(${PROJECT_SOURCE_DIR}/cmake/tern.pc.in ${PROJECT_BINARY_DIR}/tern.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tern.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
