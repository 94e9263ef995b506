# ctest consumer_flags: configure, build and run tests/consumer with a consumer's aggressive
# floating-point flags. -D SOURCE, CO3 (the checkout), BUILD, GENERATOR, CXX.
set(flags "-O2 -march=native -ffp-contract=fast")
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SOURCE} -B ${BUILD} -G ${GENERATOR}
          -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS=${flags}"
          -DCO3_SOURCE_DIR=${CO3}
  RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD} --target consumer RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the consumer failed (${rc})")
endif()
execute_process(COMMAND ${BUILD}/consumer RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the consumer built with ${flags} does not reproduce co3's bits")
endif()
