# HomiMpich.cmake - MPI parts of HOMI (issue 5): the collective read engine
# (src/coll) built against Debian's MPICH headers (ABI of libmpich.so.12),
# the MPI-IO tests and the collective benchmark.  HOMI_MPICH=AUTO (use MPICH
# when libmpich-dev is installed), ON, OFF.  The MPICH with the ad_homi
# driver itself is built by scripts/build-mpich-homi.sh (target mpich-homi)
# into a cache outside the tree; tests find it at run time and skip (77)
# only when it was not built.
set(HOMI_MPICH AUTO CACHE STRING "MPI-IO driver tests and collective engine with MPICH: AUTO, ON or OFF")
set_property(CACHE HOMI_MPICH PROPERTY STRINGS AUTO ON OFF)
set(HOMI_HAVE_MPICH OFF)
if(NOT HOMI_MPICH STREQUAL "OFF")
  pkg_check_modules(MPICH IMPORTED_TARGET mpich)
  if(MPICH_FOUND)
    set(HOMI_HAVE_MPICH ON)
  elseif(HOMI_MPICH STREQUAL "ON")
    message(FATAL_ERROR "HOMI_MPICH=ON but MPICH (libmpich-dev, pkg-config mpich) was not found")
  endif()
endif()
message(STATUS "HOMI: MPICH (MPI-IO driver, collective engine) ${HOMI_HAVE_MPICH}")

if(HOMI_HAVE_MPICH)
  add_subdirectory(src/coll)
  # Build MPICH 4.0.2 + ad_homi into the cache (skipped when cached).
  add_custom_target(mpich-homi
    COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/build-mpich-homi.sh --libhomi $<TARGET_FILE_DIR:homi>
    DEPENDS homi USES_TERMINAL)
  # where scripts/build-mpich-homi.sh puts (or has put) MPICH + ad_homi
  execute_process(COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/build-mpich-homi.sh --print-prefix
                  OUTPUT_VARIABLE HOMI_MPICH_PREFIX OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _homi_pp_rc)
  if(NOT _homi_pp_rc EQUAL 0)
    unset(HOMI_MPICH_PREFIX)
  endif()
endif()
