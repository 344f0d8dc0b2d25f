# The parser side of the agent: the byte-stream parser, spool reading, importers, editor
# diffs and the l3-agent daemon. Library code lives in l3agentparse so tests, fuzz targets
# and the benchmark call it directly; the programs are thin mains over it.
set(L3_AGENT_PARSE_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/parser.c)
foreach(part spool.c import.c import_json.c diff.c)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${part})
    list(APPEND L3_AGENT_PARSE_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/${part})
  endif()
endforeach()
add_library(l3agentparse STATIC ${L3_AGENT_PARSE_SOURCES})
target_include_directories(l3agentparse PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(l3agentparse PUBLIC l3proto)
