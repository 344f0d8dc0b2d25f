# The agent's shipping side: the durable outbox and the sender that pushes it to the
# brokers. Library code lives in l3outbox so the l3-agent daemon, the tests, the fuzz
# target and the load generator call it directly; l3-loadgen is a thin main over it.
set(L3_OUTBOX_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/outbox.c)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/sender.c)
  list(APPEND L3_OUTBOX_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/sender.c)
endif()
add_library(l3outbox STATIC ${L3_OUTBOX_SOURCES})
target_include_directories(l3outbox PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(l3outbox PUBLIC l3proto)

if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/loadgen.c)
  add_executable(l3-loadgen ${CMAKE_CURRENT_SOURCE_DIR}/loadgen.c)
  target_link_libraries(l3-loadgen PRIVATE l3outbox)
endif()

# The ceiling the ingest benchmark compares against: the same messages through a bare
# libzmq PUSH/PULL pair (bench/ingest.sh runs it).
if(EXISTS ${CMAKE_SOURCE_DIR}/bench/raw_pushpull.c)
  find_package(Threads REQUIRED)
  add_executable(l3-raw-pushpull ${CMAKE_SOURCE_DIR}/bench/raw_pushpull.c)
  target_link_libraries(l3-raw-pushpull PRIVATE l3proto Threads::Threads)
endif()
