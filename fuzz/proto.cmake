# Fuzz targets of proto's parsers.
l3_fuzz_target(msg ${CMAKE_CURRENT_SOURCE_DIR}/msg.c)
l3_fuzz_target(xmlrec ${CMAKE_CURRENT_SOURCE_DIR}/xmlrec.c)
l3_fuzz_target(join ${CMAKE_CURRENT_SOURCE_DIR}/join.c)
l3_fuzz_target(metrics ${CMAKE_CURRENT_SOURCE_DIR}/metrics.c)
