# What libco3_ops.so was built against, written beside it (lib/co3_build_info.json) and
# installed with it: python/co3 reads it before loading the library, because a library built
# against another torch fails at load time with an undefined symbol that names neither version.
#
# The torch version is the found LibTorch's own: a wheel's torch/version.py ('2.11.0+cu130'),
# else a LibTorch archive's build-version file, else TorchConfigVersion's Torch_VERSION.
set(CO3_TORCH_VERSION "${Torch_VERSION}")
set(CO3_TORCH_CUDA "")
if(EXISTS "${TORCH_INSTALL_PREFIX}/version.py")
  file(STRINGS "${TORCH_INSTALL_PREFIX}/version.py" _co3_v REGEX "^__version__ *=")
  string(REGEX REPLACE "^__version__ *= *['\"]([^'\"]*)['\"].*" "\\1" CO3_TORCH_VERSION "${_co3_v}")
  file(STRINGS "${TORCH_INSTALL_PREFIX}/version.py" _co3_c REGEX "^cuda[ :].*=")
  if(_co3_c MATCHES "['\"]([^'\"]*)['\"]")
    set(CO3_TORCH_CUDA "${CMAKE_MATCH_1}")
  endif()
elseif(EXISTS "${TORCH_INSTALL_PREFIX}/build-version")
  file(STRINGS "${TORCH_INSTALL_PREFIX}/build-version" CO3_TORCH_VERSION LIMIT_COUNT 1)
endif()

if(TARGET co3_kernels)
  set(CO3_INFO_KERNELS true)
  # The kernels' own list: find_package(Torch) rewrites CMAKE_CUDA_ARCHITECTURES in this scope.
  get_target_property(CO3_INFO_ARCHS co3_kernels CUDA_ARCHITECTURES)
  set(CO3_INFO_NVCC "${CMAKE_CUDA_COMPILER_VERSION}")
else()
  set(CO3_INFO_KERNELS false)
  set(CO3_INFO_ARCHS "")
  set(CO3_INFO_NVCC "")
endif()
file(CONFIGURE OUTPUT "${PROJECT_BINARY_DIR}/lib/co3_build_info.json" @ONLY CONTENT [=[
{
  "co3": "@PROJECT_VERSION@",
  "torch": "@CO3_TORCH_VERSION@",
  "torch_cuda": "@CO3_TORCH_CUDA@",
  "cuda_kernels": @CO3_INFO_KERNELS@,
  "cuda_architectures": "@CO3_INFO_ARCHS@",
  "cuda_compiler": "@CO3_INFO_NVCC@"
}
]=])

# The Python package (pyproject.toml installs component "python" into site-packages): the
# library and its record inside co3/. The library finds torch's libraries beside it
# (site-packages/torch/lib); `import co3` has loaded them already in any case.
set_target_properties(co3_ops PROPERTIES INSTALL_RPATH "\$ORIGIN/../torch/lib")
install(TARGETS co3_ops LIBRARY DESTINATION co3 COMPONENT python)
install(FILES "${PROJECT_BINARY_DIR}/lib/co3_build_info.json" DESTINATION co3 COMPONENT python)
