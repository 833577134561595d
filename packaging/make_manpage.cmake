# make_manpage.cmake: writes OUT (a gzipped man page, section 1) for the program EXE from its own --help,
# with help2man (HELP2MAN); the version is VERSION (EXE --version also prints this machine's runtime, which
# does not belong in a man page). With SUBCOMMANDS=ON the page also carries every command's --help
# ('EXE COMMAND --help' for each name listed under "commands:" in 'EXE --help') in a COMMANDS IN DETAIL
# section. Run as: cmake -DHELP2MAN=.. -DGZIP=.. -DEXE=.. -DVERSION=x.y.z -DNAME="one line" -DOUT=x.1.gz [-DSUBCOMMANDS=ON]
#       -P make_manpage.cmake. Fails (and writes nothing) when the program's help cannot be read.
set(ENV{QT_QPA_PLATFORM} offscreen)  # den2moe-studio's --help needs no display
get_filename_component(prog "${EXE}" NAME)
set(work "${OUT}.work")
file(MAKE_DIRECTORY "${work}")
set(include_file "${work}/${prog}.h2m")
file(WRITE "${include_file}" "[ENVIRONMENT]\n.TP\n.B D2M_SHARED_DIR\nthe folder holding models/ and data/ \
(the demo model is not installed; projects name it as $SHARED). Else a folder named shared beside the \
project file, the current folder or the program.\n.TP\n.B D2M_THREADS\ntorch's thread count (default: all cores).\n\
.TP\n.B D2M_BLAS_CORE\nauto | keep: whether the engine switches OpenBLAS to its AVX-512 kernels.\n")

# roff-safe: backslashes escaped, lines that begin with . or ' protected
function(d2m_roff_escape in outvar)
  string(REPLACE "\\" "\\e" s "${in}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" s "${s}")
  set(${outvar} "${s}" PARENT_SCOPE)
endfunction()

if(SUBCOMMANDS)
  execute_process(COMMAND "${EXE}" --help OUTPUT_VARIABLE top RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${EXE} --help failed (${rc})")
  endif()
  string(REGEX MATCH "commands:\n(  [a-z][^\n]*\n)+" block "${top}")
  string(REGEX MATCHALL "\n  [a-z][a-z0-9-]*" names "${block}")
  file(APPEND "${include_file}" "[COMMANDS IN DETAIL]\n")
  foreach(n IN LISTS names)
    string(STRIP "${n}" n)
    execute_process(COMMAND "${EXE}" ${n} --help OUTPUT_VARIABLE sub RESULT_VARIABLE rc ERROR_QUIET)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${EXE} ${n} --help failed (${rc})")
    endif()
    d2m_roff_escape("${sub}" sub)
    file(APPEND "${include_file}" ".SS ${prog} ${n}\n.nf\n${sub}.fi\n")
  endforeach()
endif()

execute_process(COMMAND "${HELP2MAN}" --no-info --section=1 --locale=C.UTF-8 --version-string=${VERSION}
                        --name=${NAME} --include=${include_file}
                        --output=${work}/${prog}.1 "${EXE}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed on ${EXE} (${rc})")
endif()
execute_process(COMMAND "${GZIP}" -9n -c "${work}/${prog}.1" OUTPUT_FILE "${OUT}.tmp" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip failed (${rc})")
endif()
file(RENAME "${OUT}.tmp" "${OUT}")
