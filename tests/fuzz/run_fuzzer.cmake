# cmake -DFUZZER=path -DSEEDS=dir -DWORK=dir -DRUNS=n -P run_fuzzer.cmake
# A bounded fuzz run over the seed corpus. New inputs and any crash go to WORK, which is
# emptied first, so the committed corpus is never written to and every run starts alike.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
execute_process(COMMAND ${FUZZER} -runs=${RUNS} -max_total_time=25 -seed=1
                        -artifact_prefix=${WORK}/ ${WORK} ${SEEDS}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${rc}); the input is in ${WORK}")
endif()
