# Fuzz targets of the agent's parser side: the byte-stream parser (with a differential
# check of split and resumed feeding) and the asciicast and tlog importers' JSON reading.
if(TARGET l3agentparse)
  l3_fuzz_target(parser ${CMAKE_SOURCE_DIR}/fuzz/parser.c LIBS l3agentparse)
  l3_fuzz_target(parser_asciicast ${CMAKE_SOURCE_DIR}/fuzz/parser_import.c LIBS l3agentparse
    DEFINES L3_FUZZ_FORMAT=L3_IMPORT_ASCIICAST)
  l3_fuzz_target(parser_tlog ${CMAKE_SOURCE_DIR}/fuzz/parser_import.c LIBS l3agentparse
    DEFINES L3_FUZZ_FORMAT=L3_IMPORT_TLOG)
endif()
