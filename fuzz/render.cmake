# Fuzz targets of render: the ANSI -> HTML converter and l3-cgi's request validation.
if(TARGET l3render)
  l3_fuzz_target(render_ansi ${CMAKE_SOURCE_DIR}/fuzz/render_ansi.c LIBS l3render)
  l3_fuzz_target(render_req ${CMAKE_SOURCE_DIR}/fuzz/render_req.c LIBS l3render)
endif()
