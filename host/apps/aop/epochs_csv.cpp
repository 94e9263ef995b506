#include "epochs_csv.h"

namespace co3::apps {

std::string epochs_csv(const std::vector<EpochStats>& epochs) {
  const size_t classes = epochs.empty() ? 0 : epochs.front().class_recall.size();
  std::string csv = "epoch,train_loss,test_accuracy,dead_classes";
  for (size_t c = 0; c < classes; ++c) csv += ",recall" + std::to_string(c);
  csv += "\n";
  for (const EpochStats& e : epochs) {
    csv += std::to_string(e.epoch) + "," + std::to_string(e.train_loss) + "," +
           std::to_string(e.test_accuracy) + "," + std::to_string(e.dead_classes());
    for (double r : e.class_recall) csv += "," + std::to_string(r);
    csv += "\n";
  }
  return csv;
}

}  // namespace co3::apps
