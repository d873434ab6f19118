# fuzz/fuzz.cmake — the fuzz engine builds (fuzz/README.md), included by the
# top-level CMakeLists.txt before any target is defined.
#   PM_FUZZ=libfuzzer  clang; every library instrumented for coverage
#                      (-fsanitize=fuzzer-no-link) with ASan + UBSan; the
#                      fuzz targets linked with -fsanitize=fuzzer.
#   PM_FUZZ=afl        the same through afl-clang-fast (CC), whose
#                      -fsanitize=fuzzer links AFL++'s persistent-mode driver
#                      (libAFLDriver: __AFL_FUZZ_TESTCASE_LEN / __AFL_LOOP).
#   PM_FUZZ unset      nothing here: the corpus replayers are built with the
#                      tests (fuzz/CMakeLists.txt).
# Presets fuzz-libfuzzer and fuzz-afl set it; scripts/fuzz.sh uses them.
set(PM_FUZZ "" CACHE STRING "fuzz engine build: libfuzzer, afl, or empty")
set_property(CACHE PM_FUZZ PROPERTY STRINGS "" libfuzzer afl)
if(PM_FUZZ STREQUAL "libfuzzer" OR PM_FUZZ STREQUAL "afl")
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "PM_FUZZ=${PM_FUZZ} needs clang or afl-clang-fast (cmake --preset fuzz-${PM_FUZZ})")
  endif()
  # PM_FUZZ_SANITIZE=OFF: coverage only, no ASan/UBSan (a worst-case search,
  # fuzz_frag / fuzz_retention, needs no sanitizer and runs several times faster;
  # presets fuzz-libfuzzer-fast / fuzz-afl-fast, the throughput builds). With
  # libFuzzer only the fuzz targets link (the coverage callbacks come from
  # -fsanitize=fuzzer): the preset builds just those.
  option(PM_FUZZ_SANITIZE "ASan + UBSan in the fuzz engine builds" ON)
  if(PM_FUZZ_SANITIZE)
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer -g)
    add_link_options(-fsanitize=address,undefined)
    add_compile_definitions(PM_ASAN=1 PM_FUZZING=1)
  else()
    add_compile_options(-fsanitize=fuzzer-no-link -fno-omit-frame-pointer -g)
    add_compile_definitions(PM_FUZZING=1)
  endif()
  # Oracles and bookkeeping loops get no coverage instrumentation
  # (fuzz/coverage-ignore.txt says which and why): libFuzzer through clang's
  # ignorelist, AFL++ through its denylist, read by afl-clang-fast at compile
  # time from the environment (so the compiler runs under `cmake -E env`).
  set(PM_FUZZ_IGNORELIST ${CMAKE_CURRENT_LIST_DIR}/coverage-ignore.txt)
  # The compiler reads the list, the build system does not see it: its hash
  # in the flags makes an edit of it recompile everything (and reconfigure).
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PM_FUZZ_IGNORELIST})
  file(SHA1 ${PM_FUZZ_IGNORELIST} pm_ignorelist_sha)
  string(SUBSTRING "${pm_ignorelist_sha}" 0 12 pm_ignorelist_sha)
  add_compile_definitions(PM_FUZZ_IGNORELIST_SHA=${pm_ignorelist_sha})
  if(PM_FUZZ STREQUAL "libfuzzer")
    add_compile_options(-fsanitize-coverage-ignorelist=${PM_FUZZ_IGNORELIST})
  else()
    set(CMAKE_C_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env AFL_LLVM_DENYLIST=${PM_FUZZ_IGNORELIST})
  endif()
elseif(PM_FUZZ)
  message(FATAL_ERROR "PM_FUZZ must be libfuzzer, afl or empty, not '${PM_FUZZ}'")
endif()
