// PowerSGD-style low rank (Vogels et al. 2019) in its one-user ("federated") form: each user
// owns its compressor, and a matrix gradient M = g + e (error feedback, γ = 1) is sent as the
// rank-R factors of one power-iteration step, P = orth(M·Q) and Q = Mᵀ·P, Q kept for the next
// round (warm start). The server rebuilds M̂ = P·Qᵀ; the user keeps e = M − M̂. The real
// PowerSGD hook all-reduces P, then Q, across ranks in two rounds; here every user's factors
// travel to the server on their own, as the other methods' packets do.
//
// A parameter is a matrix [shape[0], numel / shape[0]] (a conv weight [out, in·k·k]); one of
// fewer than two dimensions, or with min(n, m) ≤ R, goes uncompressed (as PowerSGD does).
// Wire format, tensor by tensor in the model's order, no header (both sides know the shapes
// and R): a low-rank tensor n·R float32 (P, row-major) then m·R float32 (Q, row-major); any
// other numel float32. Little-endian; every byte counted.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>

#include <cstring>
#include <string>

#include "co3/error.h"
#include "train/compressor_impl.h"

namespace co3::train {
namespace {

struct Layout {
  int64_t n = 0, m = 0;  // the matrix view [n, m]
  bool low_rank = false;
};

Layout layout_of(const std::vector<int64_t>& shape, int rank) {
  Layout l;
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  l.n = shape.empty() ? 1 : shape[0];
  l.m = l.n > 0 ? numel / l.n : 0;
  l.low_rank = shape.size() >= 2 && std::min(l.n, l.m) > rank;
  return l;
}

void append(std::vector<uint8_t>& out, const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  const auto* p = reinterpret_cast<const uint8_t*>(c.data_ptr<float>());
  out.insert(out.end(), p, p + 4 * c.numel());
}

// Gram-Schmidt on P's columns, in place (PowerSGD's orthogonalisation). A column that
// orthogonalisation leaves at rounding level (below 1e-4 of its norm before: M has no further
// direction, its rank being below R) is set to zero rather than normalised, since normalised
// rounding noise is not orthogonal to the others. Returns which columns were zeroed.
std::vector<bool> orthonormalise(at::Tensor& p) {
  std::vector<float> before(static_cast<size_t>(p.size(1)));
  for (int64_t i = 0; i < p.size(1); ++i) before[i] = p.select(1, i).norm().item<float>();
  std::vector<bool> zeroed(before.size(), false);
  for (int64_t i = 0; i < p.size(1); ++i) {
    at::Tensor col = p.select(1, i);
    const float norm = col.norm().item<float>();
    if (!(norm > 1e-4f * before[i])) {
      col.zero_();
      zeroed[i] = true;
      continue;
    }
    col.div_(norm);
    for (int64_t j = i + 1; j < p.size(1); ++j) {
      at::Tensor rest = p.select(1, j);
      rest.add_(col, -col.dot(rest).item<float>());
    }
  }
  return zeroed;
}

class PowerSgdCompressor : public GradientCompressor {
 public:
  PowerSgdCompressor(int rank, const std::vector<std::vector<int64_t>>& shapes, uint64_t seed)
      : rank_(rank) {
    // Q's first draw: a normal draw from its own generator, so the same seed gives the same Q
    // in every user and every process, and torch's global generator is left alone.
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed * 2654435761ull + 27);
    for (const auto& s : shapes) {
      const Layout l = layout_of(s, rank);
      layouts_.push_back(l);
      memory_.push_back(l.low_rank ? at::zeros({l.n, l.m}) : at::Tensor());
      q_.push_back(l.low_rank ? at::randn({l.m, rank}, gen) : at::Tensor());
    }
  }

  std::vector<uint8_t> compress(const std::vector<at::Tensor>& grads) override {
    check(grads.size() == layouts_.size(), Errc::invalid_argument,
          "powersgd: " + std::to_string(grads.size()) + " gradients for " +
              std::to_string(layouts_.size()) + " parameters");
    std::vector<uint8_t> out;
    for (size_t i = 0; i < grads.size(); ++i) {
      const Layout& l = layouts_[i];
      if (!l.low_rank) {
        append(out, grads[i]);
        continue;
      }
      at::Tensor& m = memory_[i];  // becomes M = g + e, then e = M − P·Qᵀ
      m.add_(grads[i].reshape({l.n, l.m}));
      at::Tensor p = at::mm(m, q_[i]);
      const std::vector<bool> zeroed = orthonormalise(p);
      at::Tensor q = at::mm(m.t(), p);
      m.sub_(at::mm(p, q.t()));
      // Warm start: the next round starts from the Q sent; a zeroed column (its Q column zero,
      // which would stay zero) keeps its previous start instead.
      at::Tensor next = q.clone();
      for (size_t c = 0; c < zeroed.size(); ++c)
        if (zeroed[c])
          next.select(1, static_cast<int64_t>(c)).copy_(q_[i].select(1, static_cast<int64_t>(c)));
      q_[i] = next;
      append(out, p);
      append(out, q);
    }
    return out;
  }

  const at::Tensor& memory(size_t i) const { return memory_[i]; }

 private:
  int rank_;
  std::vector<Layout> layouts_;
  std::vector<at::Tensor> memory_, q_;
};

class PowerSgdDecoder : public GradientDecoder {
 public:
  PowerSgdDecoder(int rank, const std::vector<std::vector<int64_t>>& shapes) : rank_(rank) {
    for (const auto& s : shapes) {
      layouts_.push_back(layout_of(s, rank));
      expected_ += 4 * static_cast<size_t>(layouts_.back().low_rank
                                               ? (layouts_.back().n + layouts_.back().m) * rank
                                               : layouts_.back().n * layouts_.back().m);
    }
  }

  void decompress(const uint8_t* data, size_t size, const std::vector<at::Tensor>& out) override {
    check(size == expected_, Errc::corrupt_packet,
          "powersgd packet of " + std::to_string(size) + " bytes, expected " +
              std::to_string(expected_));
    size_t off = 0;
    auto take = [&](int64_t rows, int64_t cols) {
      at::Tensor t = at::empty({rows, cols});
      std::memcpy(t.data_ptr<float>(), data + off, 4 * static_cast<size_t>(rows * cols));
      off += 4 * static_cast<size_t>(rows * cols);
      return t;
    };
    for (size_t t = 0; t < layouts_.size(); ++t) {
      const Layout& l = layouts_[t];
      at::Tensor dst = out[t].view({l.n, l.m});
      if (!l.low_rank) {
        dst.copy_(take(l.n, l.m));
        continue;
      }
      at::Tensor p = take(l.n, rank_);
      at::Tensor q = take(l.m, rank_);
      at::mm_out(dst, p, q.t());
    }
  }

 private:
  int rank_;
  std::vector<Layout> layouts_;
  size_t expected_ = 0;
};

}  // namespace

std::unique_ptr<GradientCompressor> make_powersgd_compressor(
    int rank, const std::vector<std::vector<int64_t>>& shapes, uint64_t seed) {
  return std::make_unique<PowerSgdCompressor>(rank, shapes, seed);
}
std::unique_ptr<GradientDecoder> make_powersgd_decoder(
    int rank, const std::vector<std::vector<int64_t>>& shapes) {
  return std::make_unique<PowerSgdDecoder>(rank, shapes);
}
at::Tensor powersgd_memory(const GradientCompressor& c, size_t i) {
  const auto* p = dynamic_cast<const PowerSgdCompressor*>(&c);
  check(p != nullptr, Errc::invalid_argument, "not a powersgd compressor");
  return p->memory(i);
}

}  // namespace co3::train
