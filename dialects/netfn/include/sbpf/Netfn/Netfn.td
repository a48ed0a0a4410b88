//===- Netfn.td - everything in the netfn dialect ----------*- tablegen -*-===//
#ifndef SBPF_NETFN_TD
#define SBPF_NETFN_TD
include "sbpf/Netfn/NetfnDialect.td"
include "sbpf/Netfn/NetfnTypes.td"
include "sbpf/Netfn/NetfnOps.td"
#endif
