// examples/mlp_demo.cpp: the smallest complete training loop: a two-layer MLP learns to separate
// two interleaved spirals (generated, 2-D points) with cross-entropy and plain SGD written out by
// hand. Prints the loss and accuracy as they improve.
//   build/examples/mlp_demo [--steps 400] [--seed 0] [--threads 2]
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <numbers>
#include <string>

#include <foundry/foundry.hpp>

using namespace foundry;

// n points per class on two spirals, with Gaussian jitter: x [2n, 2], labels [2n].
std::pair<Tensor<float>, Tensor<std::int64_t>> make_spirals(Index n, Generator& gen) {
  Tensor<float> x = Tensor<float>::empty({2 * n, 2});
  Tensor<std::int64_t> y = Tensor<std::int64_t>::empty({2 * n});
  const Tensor<float> noise = randn<float>({2 * n, 2}, gen);
  for (Index c = 0; c < 2; ++c) {
    for (Index i = 0; i < n; ++i) {
      const double t = 0.25 + 3.0 * static_cast<double>(i) / static_cast<double>(n);  // radius and angle grow together
      const double angle = 2.5 * t + std::numbers::pi * static_cast<double>(c);
      const Index row = c * n + i;
      x.at({row, 0}) = static_cast<float>(t * std::cos(angle)) + 0.08f * noise.at({row, 0});
      x.at({row, 1}) = static_cast<float>(t * std::sin(angle)) + 0.08f * noise.at({row, 1});
      y.at({row}) = c;
    }
  }
  return {x, y};
}

class Mlp : public nn::Module<float> {
 public:
  Mlp(Index hidden, Generator& gen)
      : fc1_(register_module("fc1", std::make_shared<nn::Linear<float>>(2, hidden, true, gen))),
        fc2_(register_module("fc2", std::make_shared<nn::Linear<float>>(hidden, hidden, true, gen))),
        out_(register_module("out", std::make_shared<nn::Linear<float>>(hidden, 2, true, gen))) {}
  Tensor<float> forward(const Tensor<float>& x) const {  // [N, 2] -> logits [N, 2]
    return out_->forward(relu(fc2_->forward(relu(fc1_->forward(x)))));
  }

 private:
  std::shared_ptr<nn::Linear<float>> fc1_, fc2_, out_;
};

int main(int argc, char** argv) {
  int steps = 400, threads = 0;
  std::uint64_t seed = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--steps") steps = std::atoi(argv[i + 1]);
    else if (flag == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--threads") threads = std::atoi(argv[i + 1]);
    else {
      std::cerr << "unknown flag " << flag << "\nusage: mlp_demo [--steps N] [--seed S] [--threads T]\n";
      return 2;
    }
  }
  if (threads > 0) set_num_threads(threads);
  Generator gen(seed);
  auto [x, y] = make_spirals(200, gen);
  Mlp model(64, gen);
  const float lr = 0.1f;
  std::cout << "mlp_demo: 2-layer MLP (" << model.num_parameters() << " parameters) on " << x.size(0)
            << " spiral points, SGD lr " << lr << "\n";
  float first = 0, last = 0, accuracy = 0;
  for (int step = 0; step <= steps; ++step) {
    const Tensor<float> logits = model.forward(x);
    const Tensor<float> loss = cross_entropy(logits, y);
    model.zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;  // the update itself is not part of the graph
      for (auto& p : model.parameters()) ops::sub_(p, p.grad(), lr);
    }
    if (step == 0) first = loss.item();
    last = loss.item();
    if (step % 50 == 0 || step == steps) {
      const Tensor<std::int64_t> predicted = argmax(logits, -1);
      Index correct = 0;
      for (Index i = 0; i < y.numel(); ++i) correct += predicted.data()[i] == y.data()[i];
      accuracy = static_cast<float>(correct) / static_cast<float>(y.numel());
      std::cout << "step " << step << "  loss " << loss.item() << "  accuracy " << accuracy << "\n";
    }
  }
  std::cout << "loss " << first << " -> " << last << (last < first ? " (falling)" : " (NOT falling)") << "\n";
  return last < first ? 0 : 1;
}
