// Medians of repeated runs in wall-clock time and in the process's CPU time (every thread's).
// CPU time stays meaningful where other processes share the cores; wall time is what a caller
// waits. Benchmarks only: nothing here is a test.
#pragma once

#include <algorithm>
#include <chrono>
#include <ctime>
#include <vector>

namespace co3::bench {

struct Timing {
  double wall = 0, cpu = 0;  // seconds, medians taken separately
};

inline double process_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

template <class F>
Timing median_timing(int repeats, F fn) {
  std::vector<double> wall, cpu;
  fn();  // warm-up: page faults and first-touch allocation stay out of the numbers
  for (int r = 0; r < repeats; ++r) {
    const auto a = std::chrono::steady_clock::now();
    const double c = process_cpu_seconds();
    fn();
    cpu.push_back(process_cpu_seconds() - c);
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

}  // namespace co3::bench
