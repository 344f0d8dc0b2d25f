# l3-rec: the session recorder (pty + spool + mark filter). Shell integration files in
# conf/shell/ are installed to share/lilalo/shell; a build-tree l3-rec falls back to the
# source tree's conf/shell so tests and developers need no install step.
include(GNUInstallDirs)
add_executable(l3-rec
  ${CMAKE_CURRENT_LIST_DIR}/rec_main.c
  ${CMAKE_CURRENT_LIST_DIR}/rec_session.c
  ${CMAKE_CURRENT_LIST_DIR}/rec_spool.c
  ${CMAKE_CURRENT_LIST_DIR}/rec_filter.c
  ${CMAKE_CURRENT_LIST_DIR}/rec_marks.c
  ${CMAKE_CURRENT_LIST_DIR}/rec_proc.c
  ${CMAKE_CURRENT_LIST_DIR}/rec_shells.c
  ${CMAKE_CURRENT_LIST_DIR}/rec_zconfig.c)
target_include_directories(l3-rec PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(l3-rec PRIVATE
  L3_REC_SHELL_DIR="${CMAKE_INSTALL_FULL_DATADIR}/lilalo/shell"
  L3_REC_SOURCE_SHELL_DIR="${PROJECT_SOURCE_DIR}/conf/shell")
target_link_libraries(l3-rec PRIVATE l3proto ${CMAKE_DL_LIBS})
# libczmq is opened with dlopen when a config file is read (rec_zconfig.c): with
# --as-needed none of l3proto's libraries is loaded at start, so `l3-rec --nonce`, run at
# every inner shell's start, starts as fast as a plain libc program.
string(REGEX MATCH "^[0-9]+" _czmq_major "${CZMQ_VERSION}")
if(NOT _czmq_major)
  set(_czmq_major 4)
endif()
target_compile_definitions(l3-rec PRIVATE L3_REC_CZMQ_SONAME="libczmq.so.${_czmq_major}")
target_link_options(l3-rec PRIVATE -Wl,--as-needed)
# Component rec: the recorder and what it needs on a host, installable alone
# (tests/install builds and installs just this part into a scratch prefix).
install(TARGETS l3-rec RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT rec)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/conf/shell/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/lilalo/shell COMPONENT rec
  PATTERN "*.swp" EXCLUDE PATTERN "*~" EXCLUDE)
# profile.d/lilalo.sh records every interactive login of every user once it is in
# /etc/profile.d. That is the site's decision, not a side effect of `cmake --install`:
# it is installed beside the shell integration and the admin (or a package) links it:
#   ln -s /usr/share/lilalo/profile.d/lilalo.sh /etc/profile.d/lilalo.sh
install(FILES ${PROJECT_SOURCE_DIR}/conf/profile.d/lilalo.sh
  DESTINATION ${CMAKE_INSTALL_DATADIR}/lilalo/profile.d COMPONENT rec)
