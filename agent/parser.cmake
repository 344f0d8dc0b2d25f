# The parser side of the agent: the byte-stream parser, spool reading, importers, editor
# diffs and the l3-agent daemon. Library code lives in l3agentparse (no ZeroMQ) and
# l3agentd (the daemon loop over the outbox and sender) so tests, fuzz targets and the
# benchmark call it directly; the programs are thin mains over it.
add_library(l3agentparse STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/parser.c
  ${CMAKE_CURRENT_SOURCE_DIR}/spool.c
  ${CMAKE_CURRENT_SOURCE_DIR}/import.c
  ${CMAKE_CURRENT_SOURCE_DIR}/import_json.c
  ${CMAKE_CURRENT_SOURCE_DIR}/diff.c)
target_include_directories(l3agentparse PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(l3agentparse PUBLIC l3proto m)

if(TARGET l3outbox)
  add_library(l3agentd STATIC ${CMAKE_CURRENT_SOURCE_DIR}/agentd.c ${CMAKE_CURRENT_SOURCE_DIR}/join.c
    ${CMAKE_CURRENT_SOURCE_DIR}/agent_metrics.c)
  target_link_libraries(l3agentd PUBLIC l3agentparse l3outbox)
  add_executable(l3-agent ${CMAKE_CURRENT_SOURCE_DIR}/l3-agent.c)
  target_link_libraries(l3-agent PRIVATE l3agentd)
  install(TARGETS l3-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT agent)
endif()

if(EXISTS ${CMAKE_SOURCE_DIR}/bench/parse_bench.c)
  add_executable(l3-parse-bench ${CMAKE_SOURCE_DIR}/bench/parse_bench.c)
  target_link_libraries(l3-parse-bench PRIVATE l3agentparse)
endif()
