# Fuzz target of the writer's datafile scanner and torn-tail recovery (writer/datafile.c).
if(TARGET l3writer)
  l3_fuzz_target(writer_scan ${CMAKE_SOURCE_DIR}/tests/writer/fuzz_writer_scan.c LIBS l3writer)
endif()
# ... and of its checkpoint parser (writer/checkpoint.c).
if(TARGET l3writer)
  l3_fuzz_target(writer_checkpoint ${CMAKE_SOURCE_DIR}/tests/writer/fuzz_writer_checkpoint.c LIBS l3writer)
endif()
