//===- AppNetDomain.h - the AppNet frontend as a Domain --------*- C++ -*-===//
#ifndef SBPF_APPNET_APPNETDOMAIN_H
#define SBPF_APPNET_APPNETDOMAIN_H

#include "sbpf/Frontend/Domain.h"

namespace sbpf::appnet {
/// The AppNet element language (docs/appnet.md): `.appnet` files, parsed,
/// type-checked and emitted as one netfn.program.
std::unique_ptr<Domain> createAppNetDomain();
} // namespace sbpf::appnet

#endif // SBPF_APPNET_APPNETDOMAIN_H
