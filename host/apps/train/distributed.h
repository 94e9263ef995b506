// One process per user plus a server, over torch.distributed (c10d): a TCPStore rendezvous and
// a Gloo process group on 127.0.0.1. Rank 0 is the server, ranks 1..N the users.
//
// Each round: the server broadcasts the parameters; every user computes its gradient at them,
// compresses it and sends the server its packet (a size/loss message, then the payload); the
// server decodes in user order, averages and steps, exactly as run_simulation does.
#pragma once

#include <string>
#include <vector>

#include "train/options.h"
#include "train/run_log.h"

namespace co3::train {

// Runs this process's rank; the server's result holds the measurements, a user's is empty.
RunResult run_dist_rank(const TrainOptions& opts);

// --spawn: starts ranks 0..users as child processes of this executable, waits for them (at
// most opts.timeout_s), and returns the exit status for main (0 when every rank succeeded).
int spawn_ranks(const TrainOptions& opts, const std::vector<std::string>& args);

}  // namespace co3::train
