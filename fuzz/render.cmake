# Fuzz targets of render: the ANSI -> HTML converter and l3-cgi's request validation.
if(TARGET l3render)
  l3_fuzz_target(render_ansi ${CMAKE_SOURCE_DIR}/fuzz/render_ansi.c LIBS l3render)
  l3_fuzz_target(render_req ${CMAKE_SOURCE_DIR}/fuzz/render_req.c LIBS l3render)
  # command output through the terminal emulator (render/vt.c)
  l3_fuzz_target(render_vt ${CMAKE_SOURCE_DIR}/fuzz/render_vt.c LIBS l3render)
  # damaged search index segments (render/textindex.c): answers stay a full scan's
  l3_fuzz_target(render_textindex ${CMAKE_SOURCE_DIR}/fuzz/render_textindex.c LIBS l3render)
endif()

# The journal's pages over datafiles of fuzzed records: one source, one target per page
# kind (fuzz/render_page.c; seeds from fuzz/render_page_seeds.py).
if(TARGET l3render)
  foreach(kind journal session cmd_full search stats api export_txt export_cast export_json
          replay)
    string(TOUPPER ${kind} KIND)
    l3_fuzz_target(render_page_${kind} ${CMAKE_SOURCE_DIR}/fuzz/render_page.c LIBS l3render
      DEFINES RENDER_PAGE=PAGE_${KIND})
  endforeach()
endif()
