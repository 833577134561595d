# The Debian package (`cpack -G DEB` in a build folder, or scripts/test_deb.sh): den2moe and den2moe-studio
# in /usr/bin, the sentencepiece shim in the private folder /usr/lib/den2moe (found beside the program,
# <exe>/../lib/den2moe; no RPATH/RUNPATH and no build-tree path is needed), the desktop entry, the icon
# (SVG + PNG), the AppStream metainfo, man pages made by help2man from the programs' --help at install
# time, copyright and changelog. Dependencies: dpkg-shlibdeps for what the binaries link, plus OpenBLAS
# (openmp), which libtorch reaches through the system's libblas.so.3 (the package changes no alternative).
# The demo model is not shipped: projects find it through $SHARED (D2M_SHARED_DIR, else ../shared).
include_guard(GLOBAL)
set(D2M_PKG_NAME den2moe-studio)
set(D2M_APP_ID org.den2moe.Studio)
set(D2M_DOC_DIR share/doc/${D2M_PKG_NAME})

if(TARGET den2moe-studio)
  install(FILES ${CMAKE_SOURCE_DIR}/packaging/${D2M_APP_ID}.desktop DESTINATION share/applications)
  install(FILES ${CMAKE_SOURCE_DIR}/packaging/${D2M_APP_ID}.metainfo.xml DESTINATION share/metainfo)
  install(FILES ${CMAKE_SOURCE_DIR}/resources/icons/den2moe.svg DESTINATION share/icons/hicolor/scalable/apps
          RENAME ${D2M_APP_ID}.svg)
  install(FILES ${CMAKE_SOURCE_DIR}/resources/icons/den2moe.png DESTINATION share/icons/hicolor/256x256/apps
          RENAME ${D2M_APP_ID}.png)
endif()
install(FILES ${CMAKE_SOURCE_DIR}/packaging/copyright DESTINATION ${D2M_DOC_DIR})

# changelog.Debian.gz (lintian wants one; gzip -9n keeps it reproducible)
find_program(D2M_GZIP gzip)
find_program(D2M_HELP2MAN help2man)
configure_file(${CMAKE_SOURCE_DIR}/packaging/changelog.Debian.in ${CMAKE_BINARY_DIR}/packaging/changelog.Debian @ONLY)
set(D2M_PKG_OUT ${CMAKE_BINARY_DIR}/packaging)
set(D2M_PKG_FILES ${D2M_PKG_OUT}/changelog.Debian.gz)
add_custom_command(OUTPUT ${D2M_PKG_OUT}/changelog.Debian.gz
                   COMMAND ${D2M_GZIP} -9nf ${D2M_PKG_OUT}/changelog.Debian
                   COMMAND ${CMAKE_COMMAND} -E touch ${D2M_PKG_OUT}/changelog.Debian
                   DEPENDS ${CMAKE_SOURCE_DIR}/packaging/changelog.Debian.in VERBATIM)

# man pages: help2man runs the built programs, so they are made when installing (install / cpack),
# not in every build
if(D2M_HELP2MAN AND D2M_GZIP)
  set(D2M_MAN_SCRIPT ${CMAKE_SOURCE_DIR}/packaging/make_manpage.cmake)
  set(D2M_MAN_PAGES)
  foreach(prog den2moe den2moe-studio)
    if(NOT TARGET ${prog})
      continue()
    endif()
    if(prog STREQUAL "den2moe")
      set(name "Den2MoE Studio command line: dense LLMs into Mixture-of-Experts models")
      set(sub ON)
    else()
      set(name "Den2MoE Studio desktop app: domain affinity, expert clusters, MoE conversion, routing")
      set(sub OFF)
    endif()
    add_custom_command(OUTPUT ${D2M_PKG_OUT}/${prog}.1.gz
                       COMMAND ${CMAKE_COMMAND} -DHELP2MAN=${D2M_HELP2MAN} -DGZIP=${D2M_GZIP}
                               -DEXE=$<TARGET_FILE:${prog}> -DVERSION=${PROJECT_VERSION} "-DNAME=${name}"
                               -DOUT=${D2M_PKG_OUT}/${prog}.1.gz -DSUBCOMMANDS=${sub} -P ${D2M_MAN_SCRIPT}
                       DEPENDS ${prog} ${D2M_MAN_SCRIPT} VERBATIM)
    list(APPEND D2M_MAN_PAGES ${D2M_PKG_OUT}/${prog}.1.gz)
  endforeach()
  list(APPEND D2M_PKG_FILES ${D2M_MAN_PAGES})
else()
  message(STATUS "help2man or gzip not found: the package gets no man pages (apt-get install help2man)")
endif()
add_custom_target(d2m_package_files DEPENDS ${D2M_PKG_FILES})
# build what the install rules below read, whenever installing (cmake --install, cpack)
install(CODE "execute_process(COMMAND \"${CMAKE_COMMAND}\" --build \"${CMAKE_BINARY_DIR}\" --target d2m_package_files
                              RESULT_VARIABLE rc)
              if(NOT rc EQUAL 0)
                message(FATAL_ERROR \"building the package files (man pages, changelog) failed\")
              endif()")

install(FILES ${D2M_PKG_OUT}/changelog.Debian.gz DESTINATION ${D2M_DOC_DIR})
if(D2M_MAN_PAGES)
  install(FILES ${D2M_MAN_PAGES} DESTINATION share/man/man1)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ${D2M_PKG_NAME})
set(CPACK_PACKAGE_VENDOR "Den2MoE Studio")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "turn dense LLMs into Mixture-of-Experts models (app and CLI)")
set(CPACK_PACKAGE_CONTACT "Den2MoE Studio maintainers <maintainers@users.noreply.h-seed-d7d1d642.example>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
    WORLD_READ WORLD_EXECUTE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# libtorch1.13 links the system BLAS (libblas.so.3); OpenBLAS's OpenMP build is what makes it fast and is
# what the engine tunes at run time. hicolor-icon-theme owns the icon folders.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0-openmp, hicolor-icon-theme")
if(TARGET DNNL::dnnl)  # the engine's float32 GEMMs (engine/model/gemm.h); libtorch1.13 depends on it too
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${CPACK_DEBIAN_PACKAGE_DEPENDS}, libdnnl2")
endif()
# the extended description only: CPack puts the summary in front as the synopsis and indents each line
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Den2MoE Studio converts dense Llama-style language models into
Mixture-of-Experts models (DIVE, Den2MoEE and their baselines) and shows how
the experts specialise: domain-affinity mining, expert clustering, conversion,
recovery training, routing views, task evaluation and export to Hugging Face
Mixtral / Qwen2-MoE folders.

The package holds the desktop app den2moe-studio and the headless command
line tool den2moe. The demo models and data are not included; projects find
them through D2M_SHARED_DIR.")
include(CPack)
