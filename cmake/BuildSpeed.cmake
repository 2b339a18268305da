# Build speed: the libtorch precompiled header only where it pays, and unity batches.
#
# The libtorch precompiled header is about 600 MB: loading it costs a source file some 7 s of
# CPU (parsing <torch/torch.h> costs 18), more than many files take to compile without it. So
# only sources that reach a libtorch header (directly or through the project's own headers) use
# it, and unity batches share each load among several sources. The scan runs at configure
# time; a stale answer only changes build speed, never the result, since every file includes
# what it uses.

# Sets `result` to ON when `file` includes <torch/...>, <ATen/...> or <c10/...>, following
# "cai/..." includes into include/ and quoted includes relative to the including file.
function(cai_reaches_torch file result)
  get_property(seen GLOBAL PROPERTY "CAI_TORCH_SCAN_${file}" SET)
  if(seen)
    get_property(v GLOBAL PROPERTY "CAI_TORCH_SCAN_${file}")
    set(${result} ${v} PARENT_SCOPE)
    return()
  endif()
  set_property(GLOBAL PROPERTY "CAI_TORCH_SCAN_${file}" OFF)  # guards include cycles
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include")
  get_filename_component(dir "${file}" DIRECTORY)
  set(v OFF)
  foreach(line IN LISTS lines)
    set(header "")
    if(line MATCHES "<(torch|ATen|c10)/")
      set(v ON)
      break()
    elseif(line MATCHES "[<\"](cai/[^>\"]+)[>\"]")
      set(header "${PROJECT_SOURCE_DIR}/include/${CMAKE_MATCH_1}")
    elseif(line MATCHES "\"([^\"]+)\"")
      get_filename_component(header "${dir}/${CMAKE_MATCH_1}" ABSOLUTE)
    endif()
    if(header AND EXISTS "${header}")
      cai_reaches_torch("${header}" hv)
      if(hv)
        set(v ON)
        break()
      endif()
    endif()
  endforeach()
  set_property(GLOBAL PROPERTY "CAI_TORCH_SCAN_${file}" ${v})
  set(${result} ${v} PARENT_SCOPE)
endfunction()

# Gives `target` the libtorch PCH of cai_model, for its sources that reach libtorch only.
# With UNITY, sources are also compiled in batches of up to CAI_UNITY_BATCH files, torch and
# torch-free ones apart, so each batch pays for its headers (libtorch, gtest, CLI11) once.
function(cai_build_setup target)
  cmake_parse_arguments(P "UNITY" "" "" ${ARGN})
  get_target_property(sources ${target} SOURCES)
  get_target_property(src_dir ${target} SOURCE_DIR)
  set(torch_sources "")
  set(plain_sources "")
  foreach(s IN LISTS sources)
    get_filename_component(abs "${s}" ABSOLUTE BASE_DIR "${src_dir}")
    if(NOT abs MATCHES "\\.cpp$")
      continue()
    endif()
    cai_reaches_torch("${abs}" uses)
    if(uses)
      list(APPEND torch_sources "${abs}")
    else()
      list(APPEND plain_sources "${abs}")
      set_source_files_properties("${abs}" PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
    endif()
  endforeach()
  if(torch_sources AND NOT target STREQUAL "cai_model")
    target_precompile_headers(${target} REUSE_FROM cai_model)
  endif()
  if(P_UNITY AND CAI_UNITY_BATCH GREATER 1)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_MODE GROUP)
    # In a batch every .cpp is an included file, so GCC flags each test fixture or lambda that
    # uses a type from an anonymous namespace, which is fine within one translation unit.
    target_compile_options(${target} PRIVATE -Wno-subobject-linkage)
    foreach(kind torch plain)
      set(i 0)
      foreach(s IN LISTS ${kind}_sources)
        math(EXPR batch "${i} / ${CAI_UNITY_BATCH}")
        set_source_files_properties("${s}" PROPERTIES UNITY_GROUP "${kind}_${batch}")
        if(kind STREQUAL "plain")
          # The batch file CMake generates takes the target's PCH unless told otherwise.
          set_source_files_properties(
            "${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/${target}.dir/Unity/unity_plain_${batch}_cxx.cxx"
            PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
        endif()
        math(EXPR i "${i} + 1")
      endforeach()
    endforeach()
  endif()
endfunction()
