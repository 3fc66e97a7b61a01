// foundry.hpp: everything, in dependency order. Include this, or the single headers you need
// (member functions such as Tensor::sum are defined in ops/ and need ops/tensor_methods.hpp).
#pragma once

#include "foundry/core/error.hpp"
#include "foundry/core/shape.hpp"
#include "foundry/core/storage.hpp"
#include "foundry/core/threading.hpp"
#include "foundry/core/generator.hpp"
#include "foundry/core/tensor.hpp"
#include "foundry/core/factory.hpp"
#include "foundry/core/print.hpp"

#include "foundry/autograd/grad_mode.hpp"
#include "foundry/autograd/node.hpp"
#include "foundry/autograd/engine.hpp"
#include "foundry/autograd/gradcheck.hpp"

#include "foundry/ops/kernels.hpp"
#include "foundry/ops/view.hpp"
#include "foundry/ops/matmul.hpp"
#include "foundry/ops/linear.hpp"
#include "foundry/ops/tensor_methods.hpp"
