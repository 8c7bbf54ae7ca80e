// Handle helpers shared by the binding files (binding*.cc, plan.cc).
#pragma once
#include <napi.h>

#include "common.h"

namespace blasnet {
extern const napi_type_tag kStorageTag;
Napi::Value wrap(Napi::Env env, Storage* s);          // new External owning s
Storage* new_storage(Napi::Env env, size_t numel);    // allocate, report to V8
Storage* unwrap(const Napi::Value& v, const char* what);  // validated, live
float* data_of(const Napi::Value& v);                 // data of a handle just made by wrap()
// Each family registers its functions on the addon's exports.
void init_tensor(Napi::Env env, Napi::Object exports);  // binding_tensor.cc: elementwise, reductions, matmul
void init_conv(Napi::Env env, Napi::Object exports);    // binding_conv.cc: convolution
void init_pool(Napi::Env env, Napi::Object exports);    // binding_pool.cc: pooling
void init_pad(Napi::Env env, Napi::Object exports);     // binding_pad.cc: nn.functional.pad
void init_train(Napi::Env env, Napi::Object exports);   // binding_train.cc: losses, batch norm, optimizers
void init_plan(Napi::Env env, Napi::Object exports);    // plan.cc: inference plans
void init_index(Napi::Env env, Napi::Object exports);   // binding_index.cc: indexing, joining, where
}  // namespace blasnet
