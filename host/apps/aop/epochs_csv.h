// One run's per-epoch CSV (co3-aop's DIR/runs/<run>-seed<S>.csv): the curve that
// scripts/aop_report.py plots and tabulates at chosen epochs, with every class's test recall so
// that a class's death and revival can be followed epoch by epoch.
#pragma once

#include <string>
#include <vector>

#include "train.h"

namespace co3::apps {

// "epoch,train_loss,test_accuracy,dead_classes,recall0,…,recall9", then one line per epoch.
std::string epochs_csv(const std::vector<EpochStats>& epochs);

}  // namespace co3::apps
