//===- Passes.td - netfn-to-netfn passes -------------------*- tablegen -*-===//
#ifndef SBPF_PASSES_TD
#define SBPF_PASSES_TD

include "mlir/Pass/PassBase.td"

def NetfnFloatToFixed : Pass<"netfn-float-to-fixed", "mlir::ModuleOp"> {
  let summary = "Represents every real number in fixed point, the scale "
                "chosen per value range";
  let description = [{
    eBPF has no floating point. This pass rewrites every `f64` value, state
    variable, map and log element into a signed 64-bit fixed-point number
    `!netfn.fixed<64, F>` (value = raw / 2^F), so the backends only see
    integer arithmetic with exactly defined rounding. The scale F is chosen
    per value from a range analysis.

    Exact forms come first:
    - a random fraction `r * 2^-32` of a `ui32` draw becomes the Q31.32
      number whose raw value is `r` (no rounding at all);
    - nanoseconds over 10^9 (AppNet's `time_diff` and Instants kept as
      floats) is computed in integers as `trunc(ns * 2^32 / 10^9)` (Q31.32)
      without overflow for any 64-bit count of seconds below 2^31.

    Ranges: interval arithmetic over the reals. Constants are points, a
    random fraction is [0, 1 - 2^-32], a cast from an integer type spans that
    type, f64 event fields are unbounded; `+ - * / min max select` follow
    interval arithmetic (a divisor whose range contains 0 gives an unbounded
    quotient); structured results join their regions' yields. A scalar state
    variable's range is the join of what `init` and every handler write
    (plus its zero unless init overwrites it at the top level before any
    read), a fixpoint over rounds of init then the handlers; a bound still
    moving after 3 rounds is widened to the next threshold (0, a power of
    two, beyond 2^31 infinity), so a counter is [0, inf) and an average
    `x = x / 2 + u / 2` of draws u is [0, 1].
    `configurable` state (set at deployment) is unbounded. Pairs, options,
    map values and log elements are not range-tracked yet: their reals are
    Q31.32 and unbounded.

    Scales: a value gets the largest F in [32, max-scale] (max-scale at most
    62) with |v| * 2^F <= 2^62 for every v in its range (one bit of headroom
    for rounding); an unbounded range, or one beyond 2^30, keeps Q31.32 and
    the fixed-point overflow contract (addition wraps, values must stay
    within (-2^31, 2^31)). `+ - * / min max select` compute at the smallest
    scale of their operands and result, a comparison at the smaller scale of
    its operands, a state write at the state's scale, a yield at its
    result's; where a value's scale differs, a `netfn.cast` between fixed
    types converts it (to a larger scale exactly, to a smaller one rounding
    toward minus infinity). A constant is rounded to the nearest multiple of
    2^-F directly at the scale of its use, so it is exact when it is a
    multiple of 2^-F: a probability p = 0.9 (an f64 m * 2^-53) is exact at
    F >= 53, and `randomf(0, 1) < p` becomes an exact comparison of the draw
    (the f64 program's decision on every draw; at Q31.32 p would round to
    the nearest 2^-32 and the draw ceil(p * 2^32) - 1 would decide
    differently). A constant outside the range of its scale is an error.
    Event fields of type f64 stay f64 and are converted where they are read
    (Q31.32) or written.

    Before / after:
    ```mlir
    %p = netfn.const 0.9 : f64            // in init: state.write @prob
    ...
    %r = netfn.random : ui32
    %f = netfn.cast %r : ui32 to f64
    %s = netfn.const 2.3283064365386963E-10 : f64
    %u = netfn.mul %f, %s : f64
    %p = netfn.state.read @prob : f64
    %c = netfn.cmp lt, %u, %p : f64
    // becomes (@prob : !netfn.fixed<64, 62>, 0.9 exact)
    %p = netfn.const raw(4150517416584649216) : !netfn.fixed<64, 62>
    ...
    %r = netfn.random : ui32
    %w = netfn.cast %r : ui32 to ui64
    %u = netfn.bitcast %w : ui64 to !netfn.fixed<64, 32>
    %u62 = netfn.cast %u : !netfn.fixed<64, 32> to !netfn.fixed<64, 62>
    %p = netfn.state.read @prob : !netfn.fixed<64, 62>
    %c = netfn.cmp lt, %u62, %p : !netfn.fixed<64, 62>
    ```
    With `report=FILE` the pass writes the error accounting as JSON: per
    real state and value its range, scale and a propagated absolute error
    bound against the real it stands for (constants: their rounding error;
    `a + b`: e_a + e_b; `a * b`: |a| e_b + |b| e_a + e_a e_b + 2^-F; `a / b`:
    (e_a + max|a/b| e_b) / (min|b| - e_b) + 2^-F when min|b| > e_b; min,
    max, select and joins: the largest; a cast to a smaller scale: + 2^-F;
    state: a fixpoint, a growing bound widened to the next power of two and
    beyond 1 to unbounded), "unbounded" where a range
    is; the bound assumes both programs take the same branches. Then every
    converted constant with its exact rounding error, every exact form
    (error 0, or its bound), every fixed-point product, quotient, rescale
    and f64 field conversion with its per-operation bound 2^-F, and the
    maxima. `max-scale=32` gives every real the one Q31.32 form.
  }];
  let options = [
    Option<"reportFile", "report", "std::string", /*default=*/"\"\"",
           "Write the rounding-error report (JSON) to this file">,
    Option<"maxScale", "max-scale", "unsigned", /*default=*/"62",
           "The largest scale F chosen for fixed<64, F> (32..62)">,
  ];
  let constructor = "sbpf::createNetfnFloatToFixedPass()";
  let dependentDialects = ["sbpf::netfn::NetfnDialect"];
}

//===----------------------------------------------------------------------===//
// Optimisation passes. Each application is proven by the checker (before ≡
// after, checkEquivalence) when run under `netfn-validate` or in the default
// `--appnet-to-bpf` pipeline; `-O0` runs none of them.
//===----------------------------------------------------------------------===//

def NetfnPropagateStateConstants
    : Pass<"netfn-propagate-state-constants", "mlir::ModuleOp"> {
  let summary = "Reads of state that only init sets become constants";
  let description = [{
    A scalar state variable that `netfn.init` writes exactly once, at the top
    level of its body, with a `netfn.const`, and that no handler writes,
    holds that constant in every handler run: each `netfn.state.read` of it
    in a handler becomes the constant. A scalar state that neither init nor
    any handler writes reads as its zero value (integers, booleans, fixed
    point and strings: a string constant gives the code its length and
    bytes, e.g. a XOR key). The declaration and init's write stay: the state is part
    of the object's ABI and user space may read it (docs/bpf-abi.md); what
    user space writes into state that the element never writes is outside
    the element's meaning.

    The rewrite is proven under the invariant that unwritten state holds its
    initial value (checker `EquivalenceOptions::unwrittenStateIsInitial`).

    Not rewritten: state that any handler writes, `configurable` state
    (an AppNet init parameter, set at deployment), state that init writes
    inside a branch or from a non-constant value, instants, f64, maps and
    logs.

    Before / after:
    ```mlir
    netfn.state @threshold : ui32
    netfn.init {
      %0 = netfn.const 2 : ui32
      netfn.state.write @threshold, %0 : ui32
      netfn.return
    }
    netfn.handler @req on @request {
      %t = netfn.state.read @threshold : ui32
      ...
    // becomes (in the handler)
      %t = netfn.const 2 : ui32
    ```
  }];
  let constructor = "sbpf::createNetfnPropagateStateConstantsPass()";
  let dependentDialects = ["sbpf::netfn::NetfnDialect"];
}

def NetfnSimplify : Pass<"netfn-simplify", "mlir::ModuleOp"> {
  let summary = "Folds constants, branches on constants and exact narrowings";
  let description = [{
    Greedy local rewrites to a fixed point, then dead-code elimination of
    unused ops without write effects (reads, pure ops; never `netfn.random`
    or `netfn.now`, whose draws are observable):
    - `netfn.cmp` of two integer, boolean or fixed-point constants becomes
      the boolean constant; `netfn.not` of a constant or of a `netfn.not`
      folds;
    - `netfn.and`/`netfn.or` of booleans with a constant operand (`x and
      true = x`, `x and false = false`, ...) and of an operand with itself;
    - `netfn.select` on a constant condition, or of two equal operands;
    - `netfn.if` on a constant condition: the taken region replaces the op
      (its yielded values replace the results; a verdict ending the region
      ends the block, and the ops after it are unreachable and removed);
    - a fixed-point comparison of a widened 32-bit random draw
      (`bitcast(cast r : ui32 to ui64)`, the exact form of `randomf(0, 1)`)
      with a constant becomes the same comparison of the draw itself with a
      32-bit constant (exact: no value is rounded), or a boolean constant
      when the threshold lies outside [0, 2^32);
    - a fixed-point `netfn.mul` with a constant c = n + m / 2^t (n =
      floor(c), m odd, t fraction bits) becomes integer ops between
      bitcasts, exactly floor(x * c) (checker/include/sbpf/Checker/
      FixedConstant.h):
      `x * n + (x >>a t) * m + (((x & (2^t - 1)) * m) >>a t)` in W bits,
      `>>a t` written as a bitcast to `fixed<W, t>` and a cast to `siW`;
      steps with n or m in {0, 1} are left out. For whole numbers (t = 0:
      one multiply) at any width, and with a fraction of t < W / 2 bits at
      W = 64 (1.5 is `x + (x >>a 1)`), where the general product takes
      four partial products of 32-bit halves and a sign correction. The
      checker encodes such a product in the same steps, so the rewrite is
      proven by simplification (netfn-validate sends no wide
      multiplication to Z3);
    - common subexpressions in handlers: an op computing what an earlier
      op that dominates it computes (same op, attributes, operands and
      result types) is replaced by it, for pure ops and for
      `netfn.field.get` of a field the handler never sets (a string
      field's get is a normalising loop in the code: first_seen read its
      key twice). Init is left as it is.

    Before / after:
    ```mlir
    %c2 = netfn.const 2 : ui32
    %c0 = netfn.const 0 : ui32
    %b = netfn.cmp gt, %c2, %c0 : ui32
    %x = netfn.and %a, %b : i1
    // becomes: uses of %x use %a
    ```
  }];
  let constructor = "sbpf::createNetfnSimplifyPass()";
  let dependentDialects = ["sbpf::netfn::NetfnDialect"];
}

def NetfnMergeConditions : Pass<"netfn-merge-conditions", "mlir::ModuleOp"> {
  let summary = "Merges nested conditions whose else arms are identical";
  let description = [{
    `if a { <reads>; if b { X } else { Y } } else { Y' }` with `Y` and `Y'`
    the same code (op by op, ignoring locations) becomes
    `<reads>; if (a and b) { X } else { Y' }`: one test instead of two
    branches. The ops computing `b` move before the outer test, so they
    must have no write effects (constants, pure arithmetic, field, state,
    map and log reads; never `netfn.random`/`netfn.now`), and neither `if`
    may have results.

    Not rewritten: else arms that differ, inner conditions computed with a
    random draw or a write, then-regions holding more than the inner `if`
    and its condition.

    Before / after:
    ```mlir
    netfn.if %a {
      %p = netfn.field.get "kind" : ui32
      %b = netfn.cmp eq, %p, %two : ui32
      netfn.if %b { netfn.reject "x" } else { netfn.forward }
      netfn.yield
    } else {
      netfn.forward
    }
    // becomes
    %p = netfn.field.get "kind" : ui32
    %b = netfn.cmp eq, %p, %two : ui32
    %ab = netfn.and %a, %b : i1
    netfn.if %ab { netfn.reject "x" } else { netfn.forward }
    ```
  }];
  let constructor = "sbpf::createNetfnMergeConditionsPass()";
  let dependentDialects = ["sbpf::netfn::NetfnDialect"];
}

def NetfnRemoveImpliedPredicates
    : Pass<"netfn-remove-implied-predicates", "mlir::ModuleOp"> {
  let summary = "Drops conjuncts that the path to them implies (Z3)";
  let description = [{
    For each conjunct of a `netfn.if` condition (the leaves of its tree of
    `netfn.and`), asks the checker whether replacing it with `true` (it
    always holds where it is evaluated) or else with `false` (it never
    does) leaves the handler the same function of its inputs, under the
    path condition of the enclosing branches and the other conjuncts, and
    with unwritten state at its initial value. The replacement is kept only
    when Z3 proves it (Unsat of the difference within the time limit);
    `netfn-simplify` then folds the constant away.

    Not rewritten: conjuncts that can both hold and fail on that path, and
    any query Z3 does not decide in time (the conjunct stays).

    Before / after:
    ```mlir
    %p0 = netfn.cmp gt, %prio, %zero : ui32      // prio > 0
    %p2 = netfn.cmp gt, %prio, %two : ui32       // prio > 2
    %c = netfn.and %p0, %p2 : i1
    netfn.if %c { ... }
    // becomes
    %t = netfn.const true : i1
    %c = netfn.and %t, %p2 : i1
    ```
  }];
  let options = [
    Option<"timeoutMs", "timeout-ms", "unsigned", /*default=*/"2000",
           "Z3 time limit per query in milliseconds">,
  ];
  let constructor = "sbpf::createNetfnRemoveImpliedPredicatesPass()";
  let dependentDialects = ["sbpf::netfn::NetfnDialect"];
}

def NetfnOrderPredicates : Pass<"netfn-order-predicates", "mlir::ModuleOp"> {
  let summary = "Orders conjunctions so the likeliest to fail comes first";
  let description = [{
    Reads a profile (JSON, see docs/passes/profile.md):
    `{"predicates": {"FILE:LINE:COL": {"evaluated": N, "held": M}}}`, keyed
    by the location of the op that computes a predicate (the frontend's
    source location). In each `netfn.and` chain that feeds a `netfn.if`,
    the conjuncts are ordered by the fraction of evaluations in which they
    held, lowest first (stable: unprofiled conjuncts keep their order after
    the profiled ones), and the ops computing each conjunct move with it,
    so the emitted short-circuit tests reject early. Only conjuncts computed
    without write effects are moved (never a `netfn.random`/`netfn.now`
    draw: their order is observable).

    Without a profile the pass does nothing.

    Before / after (profile: `kind == 2` held 5%, `prio > 2` held 60%):
    ```mlir
    %a = netfn.cmp gt, %prio, %two : ui32
    %b = netfn.cmp eq, %kind, %two : ui32
    %c = netfn.and %a, %b : i1
    // becomes
    %b = netfn.cmp eq, %kind, %two : ui32
    %a = netfn.cmp gt, %prio, %two : ui32
    %c = netfn.and %b, %a : i1
    ```
  }];
  let options = [
    Option<"profile", "profile", "std::string", /*default=*/"\"\"",
           "JSON profile of how often each predicate held">,
  ];
  let constructor = "sbpf::createNetfnOrderPredicatesPass()";
  let dependentDialects = ["sbpf::netfn::NetfnDialect"];
}

def NetfnSink : Pass<"netfn-sink", "mlir::ModuleOp"> {
  let summary = "Moves ops that write nothing next to their uses";
  let description = [{
    Narrows live ranges and lets a handler exit early: an op without write
    effects (pure ops, and reads of fields, state, maps and logs; never
    `netfn.random` or `netfn.now`, and no op with a string result) moves
    - into the region of the structured op (`netfn.if`, `netfn.match`,
      `netfn.match_option`) that holds all its uses, when they are all in
      one region, so the paths that do not need it never compute it (not
      into a `netfn.foreach` body, which would compute it once per record);
    - else to just before the first op of its block that uses it, so a
      test that ends the handler (a `netfn.reject` in a branch) comes
      before work only the continuing path needs.
    A read moves only past ops that write nothing (no field, state, map or
    log write, in their regions either), so it reads the same value. Ops
    are visited last first and the pass repeats until nothing moves; ops
    waiting for the same user do not pass each other. Strings stay where
    they are: moving kinds/cache's `body` read past its map lookup saves
    208 instructions on the C path but costs one on the LLVM path and makes
    `sbpf check` of the object take 87 s instead of 19 (past the 60 s
    validation budget). A
    handler's meaning does not depend on where a pure op stands, so the
    checker's terms of the two are the same (netfn-validate proves it by
    simplification).

    Before / after:
    ```mlir
    %n = netfn.state.read @n : ui64
    %m = netfn.add %n, %one : ui64
    netfn.if %bad {
      netfn.reject "bad"
    } else {
      netfn.yield
    }
    netfn.state.write @n, %m : ui64
    // becomes
    netfn.if %bad {
      netfn.reject "bad"
    } else {
      netfn.yield
    }
    %n = netfn.state.read @n : ui64
    %m = netfn.add %n, %one : ui64
    netfn.state.write @n, %m : ui64
    ```
  }];
  let constructor = "sbpf::createNetfnSinkPass()";
  let dependentDialects = ["sbpf::netfn::NetfnDialect"];
}

def NetfnValidate : Pass<"netfn-validate", "mlir::ModuleOp"> {
  let summary = "Runs a pipeline and proves every handler unchanged in meaning";
  let description = [{
    Translation validation of netfn-to-netfn passes: runs `pipeline` (a
    textual pass pipeline on `builtin.module`) on the module, then asks the
    checker whether each handler after it is the same function of its
    inputs as before (checkEquivalence, with unwritten state at its initial
    value; init must be unchanged).
    - Proven: the change is kept.
    - Different: the pass miscompiled. The pipeline fails with an error at
      the handler that names the pass pipeline and prints the
      counterexample (inputs, what differs); nothing is written.
    - Unknown (Z3 time limit, an op without SMT semantics, or a changed
      handler that multiplies or divides 64-bit or fixed-point numbers and
      whose differences do not simplify away: such handlers are proven by
      term simplification alone, never sent to Z3, which bit-blasts them
      for seconds whatever its time limit): the change is reverted (the
      module as it was before `pipeline`) with a warning, so an unproven
      change is never kept. Differences that simplify to false never reach
      Z3 (a constant state read becomes the term of init's constant, so a
      propagated constant is proven this way).

    ```
    sbpf-opt x.mlir --netfn-validate=pipeline=netfn-merge-conditions
    ```
  }];
  let options = [
    Option<"pipeline", "pipeline", "std::string", /*default=*/"\"\"",
           "The pass pipeline to run and validate">,
    Option<"timeoutMs", "timeout-ms", "unsigned", /*default=*/"10000",
           "Z3 time limit per handler in milliseconds">,
  ];
  let constructor = "sbpf::createNetfnValidatePass()";
  let dependentDialects = ["sbpf::netfn::NetfnDialect"];
}

def NetfnProfilePredicates : Pass<"netfn-profile-predicates", "mlir::ModuleOp"> {
  let summary = "Writes the predicate profile of sample events (no IR change)";
  let description = [{
    The producer of `netfn-order-predicates`' profile. Runs the program on
    sample events with the checker's concrete evaluator (the same SMT
    semantics as every proof, checker/lib/ConcreteEval.cpp): init once, then
    each event's handler in order, the state carried from one to the next.
    Each `netfn.cmp` of a handler is counted, by its source location, as
    evaluated and as held. The module is not changed.

    Events (JSON): `{"events": [ {"event": "request", "fields":
    {"priority": 5, "kind": 2, "user": "alice"}, "draws": [123],
    "clocks": [1000]} ]}`;
    integers, booleans and strings by the field's type, missing fields zero.
    Output: `{"predicates": {"FILE:LINE:COL": {"evaluated": N, "held": M}}}`.

    ```
    sbpf-opt el.appnet --rpc-schema rpc.proto --netfn-float-to-fixed \
      --netfn-profile-predicates="events=sample.json out=prof.json"
    ```
  }];
  let options = [
    Option<"events", "events", "std::string", /*default=*/"\"\"",
           "JSON file of sample events">,
    Option<"out", "out", "std::string", /*default=*/"\"\"",
           "Where to write the profile (JSON)">,
  ];
  let constructor = "sbpf::createNetfnProfilePredicatesPass()";
  let dependentDialects = ["sbpf::netfn::NetfnDialect"];
}

def NetfnTestSwapBranches : Pass<"netfn-test-swap-branches", "mlir::ModuleOp"> {
  let summary = "Test only: a deliberately wrong rewrite";
  let description = [{
    Swaps the two regions of the first `netfn.if` of each handler without
    negating its condition: a miscompilation, so that the tests can show
    that `netfn-validate` catches one (an error with a counterexample) and
    that nothing is written. Never part of a pipeline.
  }];
  let constructor = "sbpf::createNetfnTestSwapBranchesPass()";
  let dependentDialects = ["sbpf::netfn::NetfnDialect"];
}

#endif // SBPF_PASSES_TD
