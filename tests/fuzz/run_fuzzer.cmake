# cmake -DFUZZER=path -DSEEDS=dir -DWORK=dir -DSECONDS=n -P run_fuzzer.cmake
# A bounded fuzz run over the seed corpus: SECONDS of fuzzing, a crash, a leak, an input
# that takes over 10 s or a failed invariant fails it. New inputs, the crashing input and
# libFuzzer's output (fuzz.log) go to WORK, which is emptied first, so the committed
# corpus is never written to and every run starts alike.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus)
execute_process(COMMAND ${FUZZER} -max_total_time=${SECONDS} -timeout=10 -seed=1
                        -print_final_stats=1 -artifact_prefix=${WORK}/ ${WORK}/corpus ${SEEDS}
                RESULT_VARIABLE rc ERROR_FILE ${WORK}/fuzz.log OUTPUT_FILE ${WORK}/fuzz.log)
file(STRINGS ${WORK}/fuzz.log runs REGEX "^stat::number_of_executed_units:")
if(NOT rc EQUAL 0 OR NOT runs)
  file(READ ${WORK}/fuzz.log log)
  string(LENGTH "${log}" length)
  if(length GREATER 20000)
    math(EXPR from "${length} - 20000")
    string(SUBSTRING "${log}" ${from} -1 log)
  endif()
  message("${log}")
  message(FATAL_ERROR "${FUZZER} failed (${rc}); the input and the whole log are in ${WORK}")
endif()
string(REGEX REPLACE "^stat::number_of_executed_units: *" "" runs "${runs}")
get_filename_component(name ${FUZZER} NAME)
message("${name}: ${runs} inputs in ${SECONDS} s, no failure")
