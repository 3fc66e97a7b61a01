# Driver for the "consumer" ctest test (cmake -P). From a configured foundry build it:
#   1. installs foundry into <work>/prefix,
#   2. configures, builds and runs consumer/find_package against that prefix,
#   3. configures, builds and runs consumer/add_subdirectory against the source tree.
# Any failing step fails the test. Inputs (-D): FOUNDRY_SOURCE_DIR, FOUNDRY_BINARY_DIR,
# CONSUMER_WORK_DIR; optional FOUNDRY_CONFIG, FOUNDRY_OPENMP, CONSUMER_CXX_COMPILER, CONSUMER_GENERATOR.
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS FOUNDRY_SOURCE_DIR FOUNDRY_BINARY_DIR CONSUMER_WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer_tests.cmake: pass -D${var}=...")
  endif()
endforeach()
if(NOT FOUNDRY_CONFIG)
  set(FOUNDRY_CONFIG Release)
endif()
if(NOT DEFINED FOUNDRY_OPENMP)
  set(FOUNDRY_OPENMP ON)
endif()

set(consumer_dir "${CMAKE_CURRENT_LIST_DIR}")
set(prefix "${CONSUMER_WORK_DIR}/prefix")
file(REMOVE_RECURSE "${CONSUMER_WORK_DIR}")
file(MAKE_DIRECTORY "${CONSUMER_WORK_DIR}")

set(common_args "-DCMAKE_BUILD_TYPE=${FOUNDRY_CONFIG}")
if(CONSUMER_CXX_COMPILER)
  list(APPEND common_args "-DCMAKE_CXX_COMPILER=${CONSUMER_CXX_COMPILER}")
endif()
if(CONSUMER_GENERATOR)
  list(APPEND common_args -G "${CONSUMER_GENERATOR}")
endif()

# Single-config generators put app in the build dir, multi-config ones in <build>/<config>/.
function(app_path build out)
  if(EXISTS "${build}/${FOUNDRY_CONFIG}/app")
    set(${out} "${build}/${FOUNDRY_CONFIG}/app" PARENT_SCOPE)
  else()
    set(${out} "${build}/app" PARENT_SCOPE)
  endif()
endfunction()

function(step title)
  message(STATUS "[consumer] ${title}")
  execute_process(COMMAND ${ARGN} COMMAND_ECHO STDOUT RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[consumer] FAILED (${rc}): ${title}")
  endif()
endfunction()

step("install foundry into ${prefix}"
  "${CMAKE_COMMAND}" --install "${FOUNDRY_BINARY_DIR}" --config "${FOUNDRY_CONFIG}" --prefix "${prefix}")

# find_package: only the fresh prefix may satisfy it (checked below), never a package registry.
set(build "${CONSUMER_WORK_DIR}/find_package-build")
step("configure find_package consumer"
  "${CMAKE_COMMAND}" -S "${consumer_dir}/find_package" -B "${build}" ${common_args}
  "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
file(STRINGS "${build}/CMakeCache.txt" found_dir REGEX "^foundry_DIR:")
string(REGEX REPLACE "^foundry_DIR:[A-Z]+=" "" found_dir "${found_dir}")
cmake_path(IS_PREFIX prefix "${found_dir}" NORMALIZE from_prefix)
if(NOT from_prefix)
  message(FATAL_ERROR "[consumer] find_package(foundry) used ${found_dir}, not the install in ${prefix}")
endif()
step("build find_package consumer" "${CMAKE_COMMAND}" --build "${build}" --config "${FOUNDRY_CONFIG}")
app_path("${build}" app)
step("run find_package consumer" "${app}")

set(build "${CONSUMER_WORK_DIR}/add_subdirectory-build")
step("configure add_subdirectory consumer"
  "${CMAKE_COMMAND}" -S "${consumer_dir}/add_subdirectory" -B "${build}" ${common_args}
  "-DFOUNDRY_SOURCE_DIR=${FOUNDRY_SOURCE_DIR}" "-DFOUNDRY_OPENMP=${FOUNDRY_OPENMP}")
step("build add_subdirectory consumer" "${CMAKE_COMMAND}" --build "${build}" --config "${FOUNDRY_CONFIG}")
app_path("${build}" app)
step("run add_subdirectory consumer" "${app}")

message(STATUS "[consumer] all steps passed")
