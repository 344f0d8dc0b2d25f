# Fuzz target of l3-rec's script filter (agent/rec_filter.c: no nonce into .script), with
# the parser as its judge.
if(TARGET l3agentparse)
  l3_fuzz_target(rec_filter ${CMAKE_SOURCE_DIR}/fuzz/rec_filter.c LIBS l3agentparse)
  foreach(t fuzz_rec_filter libfuzzer_rec_filter)
    if(TARGET ${t})
      target_sources(${t} PRIVATE ${CMAKE_SOURCE_DIR}/agent/rec_filter.c)
      target_include_directories(${t} PRIVATE ${CMAKE_SOURCE_DIR}/agent)
    endif()
  endforeach()
endif()
