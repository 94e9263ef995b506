#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace co3::detail {
namespace {

// One parallel_for call: `parts` contiguous ranges, claimed by index by whoever gets there
// first. The caller claims parts too, so a call finishes even when every worker is busy (nested
// or concurrent calls) or gone (a forked child): workers only ever speed it up.
struct Job {
  const std::function<void(size_t, size_t)>* fn;
  size_t n, parts;
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::condition_variable finished;
  size_t done = 0;  // under mu
  std::exception_ptr first;

  // Runs parts until none is left to claim.
  void work() {
    for (size_t p; (p = next.fetch_add(1)) < parts;) {
      std::exception_ptr err;
      try {
        (*fn)(n * p / parts, n * (p + 1) / parts);
      } catch (...) {
        err = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mu);
      // Every exception_ptr release happens under mu: the reference count is libstdc++'s, which
      // TSan cannot see, so an unlocked release would race with the caller's read of the error.
      if (err && !first) first = std::move(err);
      err = nullptr;
      if (++done == parts) finished.notify_all();
    }
  }
};

// Threads started once and kept: starting threads on every call cost more than the work of a
// small tensor (issue 13). The pool grows to the largest thread count asked for and lives until
// the process ends (never destroyed, so no exit-time join races with static destructors).
class Pool {
 public:
  static Pool& get() {
    static Pool* pool = new Pool;
    return *pool;
  }

  void run(size_t n, size_t parts, const std::function<void(size_t, size_t)>& fn) {
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->n = n;
    job->parts = parts;
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (workers_.size() < parts - 1) workers_.emplace_back([this] { loop(); });
      for (size_t i = 1; i < parts; ++i) queue_.push_back(job);
    }
    wake_.notify_all();
    job->work();
    std::unique_lock<std::mutex> lock(job->mu);
    job->finished.wait(lock, [&] { return job->done == job->parts; });
    // Taken out of the job, so that a worker dropping the last reference to the job later frees
    // no part of the exception the caller is handling.
    const std::exception_ptr err = std::move(job->first);
    job->first = nullptr;
    lock.unlock();
    if (err) std::rethrow_exception(err);
  }

 private:
  void loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job->work();  // a no-op when the caller and other workers took every part already
    }
  }

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::thread> workers_;
};

}  // namespace

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

void parallel_for(size_t n, int threads, size_t min_per_thread,
                  const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  const size_t by_size = std::max<size_t>(1, n / std::max<size_t>(1, min_per_thread));
  const size_t t = std::min<size_t>(static_cast<size_t>(resolve_threads(threads)), by_size);
  if (t <= 1) {
    fn(0, n);
    return;
  }
  Pool::get().run(n, t, fn);
}

}  // namespace co3::detail
