// netfn-validate: a rewrite that changes a handler's meaning fails the
// pipeline with a counterexample (here a deliberately wrong test pass), and
// nothing is written; a correct one is kept.
// RUN: not sbpf-opt %s --netfn-validate=pipeline=netfn-test-swap-branches -o %t.mlir 2>&1 | FileCheck %s --check-prefix=WRONG
// RUN: not test -e %t.mlir
// RUN: sbpf-opt %s --netfn-validate=pipeline=netfn-propagate-state-constants | FileCheck %s --check-prefix=RIGHT
// RUN: not sbpf-opt %s --netfn-validate=pipeline=no-such-pass 2>&1 | FileCheck %s --check-prefix=BADPIPE
// RUN: not sbpf-opt %s --netfn-validate 2>&1 | FileCheck %s --check-prefix=NOPIPE

// BADPIPE: error: netfn-validate: bad pipeline 'no-such-pass': {{.*}}'no-such-pass' does not refer to a registered pass
// NOPIPE: error: netfn-validate: no pipeline to validate (give pipeline=PASSES)

// WRONG: error: netfn-validate: pipeline 'netfn-test-swap-branches' changed the meaning of handler @req (a compiler bug):
// WRONG-NEXT: differs in: verdict;
// WRONG: verdicts: {{(forward vs reject "too_high"|reject "too_high" vs forward)}}

// RIGHT-LABEL: netfn.program @threshold
// RIGHT: netfn.handler @req
// RIGHT-NOT: netfn.state.read
// RIGHT: netfn.reject "too_high"
netfn.program @threshold {
  netfn.event @request "rpc.request" (priority : ui32)
  netfn.state @limit : ui32
  netfn.init {
    %0 = netfn.const 2 : ui32
    netfn.state.write @limit, %0 : ui32
    netfn.return
  }
  netfn.handler @req on @request {
    %p = netfn.field.get "priority" : ui32
    %t = netfn.state.read @limit : ui32
    %c = netfn.cmp gt, %p, %t : ui32
    netfn.if %c {
      netfn.reject "too_high"
    } else {
      netfn.forward
    }
    netfn.forward
  }
}
