# HomiOmpi.cmake - the Open MPI route of the MPI-IO driver (issue 7):
# ad_homi inside Open MPI 4.1's ROMIO component plugin io/romio321, loaded
# into the installed Open MPI (docs/mpi-io.md, "Open MPI").  HOMI_OMPI=AUTO
# (on when Open MPI's pkg-config ompi-c, ompi_info and mpirun are found),
# ON, OFF.  The plugin itself is built by scripts/build-ompi-homi.sh (target
# ompi-homi) into a cache outside the tree; the tests (tests/mpi-ompi, label
# mpi) find it at run time and skip (77) only when it was not built.
set(HOMI_OMPI AUTO CACHE STRING "MPI-IO driver as Open MPI's io/romio321 plugin: AUTO, ON or OFF")
set_property(CACHE HOMI_OMPI PROPERTY STRINGS AUTO ON OFF)
set(HOMI_HAVE_OMPI OFF)
if(NOT HOMI_OMPI STREQUAL "OFF")
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(OMPI_C IMPORTED_TARGET ompi-c)
  endif()
  find_program(HOMI_OMPI_INFO ompi_info)
  find_program(HOMI_OMPI_MPIRUN NAMES mpirun.openmpi mpirun)
  if(OMPI_C_FOUND AND HOMI_OMPI_INFO AND HOMI_OMPI_MPIRUN)
    set(HOMI_HAVE_OMPI ON)
  elseif(HOMI_OMPI STREQUAL "ON")
    message(FATAL_ERROR "HOMI_OMPI=ON but Open MPI (libopenmpi-dev: pkg-config ompi-c, ompi_info) was not found")
  endif()
endif()
message(STATUS "HOMI: Open MPI io/romio321 plugin with ad_homi ${HOMI_HAVE_OMPI}")

if(HOMI_HAVE_OMPI)
  # the collective engine for Open MPI programs (src/coll, as homi_coll_mpich)
  file(GLOB HOMI_COLL_OMPI_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/coll/coll_*.c)
  add_library(homi_coll_ompi STATIC ${HOMI_COLL_OMPI_SOURCES})
  target_include_directories(homi_coll_ompi PUBLIC ${PROJECT_SOURCE_DIR}/src/coll)
  target_link_libraries(homi_coll_ompi PUBLIC homi PkgConfig::OMPI_C)
  set_target_properties(homi_coll_ompi PROPERTIES POSITION_INDEPENDENT_CODE ON)
  # Build the plugin into the cache (skipped when cached).
  add_custom_target(ompi-homi
    COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/build-ompi-homi.sh --libhomi $<TARGET_FILE_DIR:homi>
    DEPENDS homi USES_TERMINAL)
  if(HOMI_BUILD_TESTS)
    add_subdirectory(${PROJECT_SOURCE_DIR}/tests/mpi-ompi ${CMAKE_BINARY_DIR}/tests/mpi-ompi)
  endif()
endif()
