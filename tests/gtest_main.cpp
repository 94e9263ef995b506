// The main of every GoogleTest executable in tests/: GoogleTest's own, except that a run in
// which every test skipped (none passed, none failed) exits with 77, which ctest reports as
// skipped (SKIP_RETURN_CODE). A file whose other tests pass passes with some skipped, and any
// failure fails: unlike matching "[  SKIPPED ]" in the output, which ctest would let override
// a failing exit status.
//
// Built with CO3_GTEST_DEVICE_RESET (the GPU tests), it also resets the device at the end, so
// that compute-sanitizer's leak check sees the allocations still held when the context is
// destroyed (scripts/gpu_check.sh runs memcheck with --leak-check full).
#include <gtest/gtest.h>

#if defined(CO3_GTEST_DEVICE_RESET)
#include <cuda_runtime_api.h>
#endif

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
#if defined(CO3_GTEST_DEVICE_RESET)
  int devices = 0;
  if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0) cudaDeviceReset();
#endif
  const ::testing::UnitTest& u = *::testing::UnitTest::GetInstance();
  if (status == 0 && u.successful_test_count() == 0 && u.skipped_test_count() > 0) return 77;
  return status;
}
