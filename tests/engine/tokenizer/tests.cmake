# Tokenizer test registrations (included by tests/CMakeLists.txt after the test_*.cpp executables):
# - spm_oracle: python3-sentencepiece writes the expected ids/decodes (fixture for test_spm_tokenizer)
# - test_spm_tokenizer reads it via $D2M_SPM_ORACLE
# - test_spm_tokenizer_missing_oracle: the oracle case must FAIL, naming the file, when it is absent
# - test_spm_tokenizer_bad_shim: a D2M_SPM_SHIM that does not exist gives an error naming that path
set(D2M_SPM_ORACLE_JSON ${CMAKE_BINARY_DIR}/oracle/spm_oracle.json)
add_test(NAME spm_oracle
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/spm_oracle.py
                 --shared ${D2M_SHARED_DIR} --out ${D2M_SPM_ORACLE_JSON})
set_tests_properties(spm_oracle PROPERTIES FIXTURES_SETUP spm_oracle LABELS "engine;oracle")

if(TARGET test_spm_tokenizer)
  set_tests_properties(test_spm_tokenizer PROPERTIES
    FIXTURES_REQUIRED spm_oracle
    ENVIRONMENT "${D2M_TEST_ENV};D2M_SPM_ORACLE=${D2M_SPM_ORACLE_JSON}")

  add_test(NAME test_spm_tokenizer_missing_oracle
           COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:test_spm_tokenizer>
                   -DCASE=oracle_matches_python "-DEXPECT=not found"
                   -P ${CMAKE_CURRENT_LIST_DIR}/expect_failure.cmake)
  set_tests_properties(test_spm_tokenizer_missing_oracle PROPERTIES LABELS engine
    ENVIRONMENT "${D2M_TEST_ENV};D2M_SPM_ORACLE=${CMAKE_BINARY_DIR}/oracle/no_such_oracle.json")

  # the same cases on the in-process encoder (tokenizer/spm_native.cpp): python3-sentencepiece's ids and text
  add_test(NAME test_spm_tokenizer_native COMMAND test_spm_tokenizer)
  set_tests_properties(test_spm_tokenizer_native PROPERTIES FIXTURES_REQUIRED spm_oracle LABELS engine
    SKIP_RETURN_CODE 77 ENVIRONMENT "${D2M_TEST_ENV};D2M_SPM_ORACLE=${D2M_SPM_ORACLE_JSON};D2M_SPM=native")

  add_test(NAME test_spm_tokenizer_bad_shim COMMAND test_spm_tokenizer shim_missing_reports_path)
  set_tests_properties(test_spm_tokenizer_bad_shim PROPERTIES LABELS engine SKIP_RETURN_CODE 77
    ENVIRONMENT "${D2M_TEST_ENV};D2M_SPM_SHIM=${CMAKE_BINARY_DIR}/no_such_dir/libspm_shim.so;D2M_EXPECT_SHIM_FAILURE=1")
endif()

# test_text_policy: the text policy through the tokenizers, against core/tests.cmake's text_oracle
if(TARGET test_text_policy)
  set_tests_properties(test_text_policy PROPERTIES FIXTURES_REQUIRED text_oracle
    ENVIRONMENT "${D2M_TEST_ENV};D2M_TEXT_ORACLE=${D2M_TEXT_ORACLE_JSON}")
endif()

# Byte-level BPE (Qwen2/Qwen3 vocabulary): tests/reference/bpe_oracle.py writes the expected ids/decodes of
# ~3,700 texts. Peer 1 (always): its own GPT-2-algorithm implementation on Debian's python3 + python3-regex.
# Peer 2 (when found): Hugging Face tokenizers, pinned, in a venv: D2M_HF_PYTHON, else <build>/hfvenv, made by
#   /usr/bin/python3 -m venv --system-site-packages <build>/hfvenv
#   <build>/hfvenv/bin/pip install --no-deps tokenizers==0.23.3
set(D2M_BPE_ORACLE_JSON ${CMAKE_BINARY_DIR}/oracle/bpe_oracle.json)
add_test(NAME bpe_oracle
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/bpe_oracle.py --impl python
                 --shared ${D2M_SHARED_DIR} --multilingual ${CMAKE_SOURCE_DIR}/tests/data/multilingual.jsonl
                 --out ${D2M_BPE_ORACLE_JSON})
set_tests_properties(bpe_oracle PROPERTIES FIXTURES_SETUP bpe_oracle LABELS "engine;oracle")

set(D2M_HF_PYTHON "" CACHE FILEPATH "Python with Hugging Face tokenizers==0.23.3 (second BPE peer; optional)")
set(_d2m_hf_python "${D2M_HF_PYTHON}")
if(NOT _d2m_hf_python AND EXISTS ${CMAKE_BINARY_DIR}/hfvenv/bin/python)
  set(_d2m_hf_python ${CMAKE_BINARY_DIR}/hfvenv/bin/python)
endif()
set(_d2m_hf_ok FALSE)
if(_d2m_hf_python)
  execute_process(COMMAND ${_d2m_hf_python} -c "import tokenizers; assert tokenizers.__version__ == '0.23.3'"
                  RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
  if(_rc EQUAL 0)
    set(_d2m_hf_ok TRUE)
  else()
    message(STATUS "BPE: ${_d2m_hf_python} lacks tokenizers 0.23.3; the Hugging Face peer is not registered")
  endif()
endif()
set(D2M_BPE_ORACLE_HF_JSON ${CMAKE_BINARY_DIR}/oracle/bpe_oracle_hf.json)
set(D2M_BPE_HF_TOKENIZER_JSON ${CMAKE_BINARY_DIR}/oracle/hf_qwen2/tokenizer.json)
if(_d2m_hf_ok)
  add_test(NAME bpe_oracle_hf
           COMMAND ${_d2m_hf_python} ${CMAKE_SOURCE_DIR}/tests/reference/bpe_oracle.py --impl hf
                   --shared ${D2M_SHARED_DIR} --multilingual ${CMAKE_SOURCE_DIR}/tests/data/multilingual.jsonl
                   --save-json ${D2M_BPE_HF_TOKENIZER_JSON} --out ${D2M_BPE_ORACLE_HF_JSON})
  set_tests_properties(bpe_oracle_hf PROPERTIES FIXTURES_SETUP bpe_oracle_hf LABELS "engine;oracle")
  add_test(NAME bpe_oracle_hf_gpt2
           COMMAND ${_d2m_hf_python} ${CMAKE_SOURCE_DIR}/tests/reference/bpe_oracle.py --impl hf --variant gpt2
                   --shared ${D2M_SHARED_DIR} --multilingual ${CMAKE_SOURCE_DIR}/tests/data/multilingual.jsonl
                   --save-json ${CMAKE_BINARY_DIR}/oracle/hf_gpt2/tokenizer.json
                   --out ${CMAKE_BINARY_DIR}/oracle/bpe_oracle_hf_gpt2.json)
  set_tests_properties(bpe_oracle_hf_gpt2 PROPERTIES FIXTURES_SETUP bpe_oracle_hf LABELS "engine;oracle")
endif()

if(TARGET test_bpe_tokenizer)
  set(_bpe_env "${D2M_TEST_ENV};D2M_BPE_ORACLE=${D2M_BPE_ORACLE_JSON}")
  # the default registration runs every case; without the HF peer its two cases are run apart and must fail
  if(_d2m_hf_ok)
    set_tests_properties(test_bpe_tokenizer PROPERTIES FIXTURES_REQUIRED "bpe_oracle;bpe_oracle_hf"
      ENVIRONMENT "${_bpe_env};D2M_BPE_ORACLE_HF=${D2M_BPE_ORACLE_HF_JSON};D2M_BPE_HF_JSON=${D2M_BPE_HF_TOKENIZER_JSON};D2M_BPE_ORACLE_HF_GPT2=${CMAKE_BINARY_DIR}/oracle/bpe_oracle_hf_gpt2.json;D2M_BPE_HF_GPT2_JSON=${CMAKE_BINARY_DIR}/oracle/hf_gpt2/tokenizer.json")
  else()
    foreach(case missing_oracle_is_an_error loads_qwen2_folder known_ids_by_hand invalid_utf8_input_is_repaired_first
                 oracle_matches_python tiny_vocabulary_merges_by_rank bad_files_name_file_and_line)
      add_test(NAME test_bpe_tokenizer_${case} COMMAND test_bpe_tokenizer ${case})
      set_tests_properties(test_bpe_tokenizer_${case} PROPERTIES FIXTURES_REQUIRED bpe_oracle
        ENVIRONMENT "${_bpe_env}" LABELS engine SKIP_RETURN_CODE 77)
    endforeach()
    set_tests_properties(test_bpe_tokenizer PROPERTIES DISABLED TRUE)
  endif()

  add_test(NAME test_bpe_tokenizer_missing_oracle
           COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:test_bpe_tokenizer>
                   -DCASE=oracle_matches_python "-DEXPECT=not found"
                   -P ${CMAKE_CURRENT_LIST_DIR}/expect_failure.cmake)
  set_tests_properties(test_bpe_tokenizer_missing_oracle PROPERTIES LABELS engine
    ENVIRONMENT "${D2M_TEST_ENV};D2M_BPE_ORACLE=${CMAKE_BINARY_DIR}/oracle/no_such_oracle.json")
endif()

# den2moe info --tokenizer DIR describes a tokenizer alone; a merges.txt naming an unknown piece exits 1 naming
# the file and the line (tests/data/bpe_bad_merges: vocab.json + merges.txt)
if(TARGET den2moe)
  add_test(NAME cli_info_bpe_tokenizer
           COMMAND sh -c "out=$($<TARGET_FILE:den2moe> info --tokenizer '${D2M_SHARED_DIR}/models/qwen2_tokenizer' 2>&1); rc=$?; echo \"$out\"; test $rc -eq 0 && echo \"$out\" | grep -q 'byte-level BPE, 151646 pieces' && echo \"$out\" | grep -q 'eos .*151645'")
  set_tests_properties(cli_info_bpe_tokenizer PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli)
  add_test(NAME cli_info_bpe_bad_merges
           COMMAND sh -c "out=$($<TARGET_FILE:den2moe> info --tokenizer '${CMAKE_SOURCE_DIR}/tests/data/bpe_bad_merges' 2>&1); rc=$?; echo \"$out\"; test $rc -eq 1 && echo \"$out\" | grep -q 'merges.txt line 3'")
  set_tests_properties(cli_info_bpe_bad_merges PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli)
endif()

# test_spm_native compares the in-process encoder with the library on every domain's test records (data/corpus)
if(TARGET test_spm_native)
  target_link_libraries(test_spm_native PRIVATE d2m_data)
endif()
