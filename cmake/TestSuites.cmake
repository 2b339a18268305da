# One CTest test per GoogleTest suite, not per test.
#
# Every test process loads libtorch, whose start-up alone costs most of a second of CPU; with
# one process per test that was most of the suite's time on two cores, and a suite's shared
# set-up (SetUpTestSuite: a world, a pretrained tiny model) ran again for every test. So each
# suite runs in one process, as `test_x --gtest_filter=Suite.*`. The list of suites comes from
# the built binary (--gtest_list_tests) after every link, like gtest_discover_tests, and bigger
# suites get a higher COST so CTest starts them first when it has no timings of its own yet.
#
# Suites named in CAI_SERIAL_SUITES run alone (RUN_SERIAL): they start processes that each use
# every core, and beside another test libtorch's spinning threads slow them twentyfold.
#
# Used two ways: included from CMakeLists.txt for cai_test_suites(), and run as a script after
# each link (cmake -P) with EXE, OUT, PREFIX, TIMEOUT, WORKDIR and SERIAL (comma-separated) set.

if(CMAKE_SCRIPT_MODE_FILE)
  # Listing runs no test: in a sanitizer build, libtorch's caches kept until exit are no leak.
  set(ENV{ASAN_OPTIONS} "detect_leaks=0")
  execute_process(COMMAND "${EXE}" --gtest_list_tests
                  OUTPUT_VARIABLE listing ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${EXE} --gtest_list_tests failed (${rc}): ${err}")
  endif()
  string(REPLACE "\n" ";" lines "${listing}")
  set(suites "")
  set(suite "")
  foreach(line IN LISTS lines)
    # A comment follows typed and parameterised names ("  # TypeParam = ...").
    string(REGEX REPLACE "[ ]+#.*$" "" line "${line}")
    if(line MATCHES "^([^ ].*)\\.$")
      set(suite "${CMAKE_MATCH_1}")
      list(APPEND suites "${suite}")
      set("count_${suite}" 0)
    elseif(suite AND line MATCHES "^  [^ ]")
      math(EXPR "count_${suite}" "${count_${suite}} + 1")
    endif()
  endforeach()
  set(text "")
  string(REPLACE "," ";" serial "${SERIAL}")
  foreach(s IN LISTS suites)
    set(extra "")
    list(FIND serial "${s}" at)  # IN_LIST needs a policy a -P script does not set
    if(at GREATER -1)
      set(extra " RUN_SERIAL TRUE")
    endif()
    string(APPEND text
      "add_test([==[${PREFIX}.${s}]==] [==[${EXE}]==] [==[--gtest_filter=${s}.*]==])\n"
      "set_tests_properties([==[${PREFIX}.${s}]==] PROPERTIES WORKING_DIRECTORY [==[${WORKDIR}]==]"
      " TIMEOUT ${TIMEOUT} COST ${count_${s}}${extra})\n")
  endforeach()
  # Written whole and renamed, so a CTest started meanwhile never reads half a list.
  file(WRITE "${OUT}.tmp" "${text}")
  file(RENAME "${OUT}.tmp" "${OUT}")
  return()
endif()

# Registers the suites of test executable `target` under the name prefix `prefix`.
function(cai_test_suites target prefix timeout)
  set(list_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_suites.cmake")
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND "${CMAKE_COMMAND}" -D "EXE=$<TARGET_FILE:${target}>" -D "OUT=${list_file}"
            -D "PREFIX=${prefix}" -D "TIMEOUT=${timeout}" -D "WORKDIR=${CMAKE_CURRENT_BINARY_DIR}"
            -D "SERIAL=${CAI_SERIAL_SUITES}"
            -P "${PROJECT_SOURCE_DIR}/cmake/TestSuites.cmake"
    VERBATIM)
  # CTest reads this at start-up; before the first build there is nothing to list.
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_include.cmake")
  file(WRITE "${include_file}"
    "if(EXISTS [==[${list_file}]==])\n  include([==[${list_file}]==])\n"
    "else()\n  add_test([==[${target}_NOT_BUILT]==] [==[${target}_NOT_BUILT]==])\nendif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
