// The main of every GoogleTest executable in tests/: GoogleTest's own, except that a run in
// which every test skipped (none passed, none failed) exits with 77, which ctest reports as
// skipped (SKIP_RETURN_CODE). A file whose other tests pass passes with some skipped, and any
// failure fails: unlike matching "[  SKIPPED ]" in the output, which ctest would let override
// a failing exit status.
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
  const ::testing::UnitTest& u = *::testing::UnitTest::GetInstance();
  if (status == 0 && u.successful_test_count() == 0 && u.skipped_test_count() > 0) return 77;
  return status;
}
