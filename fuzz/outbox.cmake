# Fuzz target of the agent's outbox segment reader and recovery (agent/outbox.c).
l3_fuzz_target(outbox ${CMAKE_CURRENT_SOURCE_DIR}/outbox_segment.c LIBS l3outbox)
