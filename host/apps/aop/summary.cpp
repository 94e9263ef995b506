#include "summary.h"

#include <cmath>
#include <cstdio>

#include "co3/torch/aop.h"

namespace co3::apps {
namespace {

bool same(const Method& a, const Method& b) {
  return a.exact == b.exact &&
         (a.exact || (a.policy == b.policy && a.memory == b.memory && a.k == b.k));
}

// "84.12 ± 0.31" in percent over the runs that match, or "–" if none; the sample standard
// deviation (n − 1), 0 for a single seed.
std::string cell(const std::vector<RunOutcome>& runs, bool (*match)(const Method&, const Method&),
                 const Method& want) {
  std::vector<double> v;
  for (const RunOutcome& r : runs)
    if (match(r.method, want)) v.push_back(100.0 * r.final_accuracy);
  if (v.empty()) return "–";
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double var = 0;
  for (double x : v) var += (x - mean) * (x - mean);
  const double sd = v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f ± %.2f", mean, sd);
  return buf;
}

}  // namespace

std::string summary_markdown(const std::vector<RunOutcome>& runs, const std::vector<int64_t>& ks,
                             const std::string& setup) {
  std::string s = setup + "\n\nTest accuracy (%) after the last epoch, mean ± std over seeds.\n\n";
  s += "| weight gradient | memory |";
  for (int64_t k : ks) s += " K = " + std::to_string(k) + " |";
  s += "\n|---|---|";
  for (size_t i = 0; i < ks.size(); ++i) s += "---|";
  s += "\n";
  Method exact;
  const std::string exact_cell = cell(runs, same, exact);
  s += "| exact SGD (all D rows) | – |";
  for (size_t i = 0; i < ks.size(); ++i) s += " " + exact_cell + " |";
  s += "\n";
  for (AopPolicy p : {AopPolicy::topk, AopPolicy::weighted, AopPolicy::random}) {
    for (bool memory : {true, false}) {
      std::string row =
          std::string("| ") + aop_policy_name(p) + "-K | " + (memory ? "yes" : "no") + " |";
      bool any = false;
      for (int64_t k : ks) {
        Method m;
        m.exact = false;
        m.policy = p;
        m.memory = memory;
        m.k = k;
        const std::string c = cell(runs, same, m);
        any = any || c != "–";
        row += " " + c + " |";
      }
      if (any) s += row + "\n";
    }
  }
  return s;
}

}  // namespace co3::apps
