//===- NetfnOps.td - netfn operations ----------------------*- tablegen -*-===//
//
// Every op states its exact meaning in its description; the checker's SMT
// encoding follows these words, and so do the backends.
//
//===----------------------------------------------------------------------===//

#ifndef SBPF_NETFN_OPS_TD
#define SBPF_NETFN_OPS_TD

include "sbpf/Netfn/NetfnTypes.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Netfn_Bool : TypeAlias<I1, "bool (i1)">;
def Netfn_Int : Type<
    CPred<"::sbpf::netfn::isNetfnInteger($_self)">,
    "signed or unsigned integer (si8..si64, ui8..ui64)">;
def Netfn_Numeric : Type<
    CPred<"::sbpf::netfn::isNumeric($_self)">,
    "integer, fixed-point or f64">;
def Netfn_Ordered : Type<
    CPred<"::sbpf::netfn::isNumeric($_self) || "
          "::llvm::isa<::sbpf::netfn::InstantType>($_self)">,
    "integer, fixed-point, f64 or instant">;
def Netfn_BitsLike : Type<
    CPred<"$_self.isInteger(1) || ::sbpf::netfn::isNetfnInteger($_self)">,
    "bool or integer">;
def Netfn_Value : Type<
    CPred<"::sbpf::netfn::isValueType($_self)">, "netfn value type">;
def Netfn_Scalar : Type<
    CPred<"::sbpf::netfn::isScalarType($_self)">,
    "netfn scalar (bool, integer, fixed, f64, string, instant)">;
def Netfn_String : Type<CPred<"::llvm::isa<::sbpf::netfn::StringType>($_self)">,
    "!netfn.string", "::sbpf::netfn::StringType">;
def Netfn_Option : Type<CPred<"::llvm::isa<::sbpf::netfn::OptionType>($_self)">,
    "!netfn.option", "::sbpf::netfn::OptionType">;
def Netfn_Pair : Type<CPred<"::llvm::isa<::sbpf::netfn::PairType>($_self)">,
    "!netfn.pair", "::sbpf::netfn::PairType">;
def Netfn_Instant : Type<CPred<"::llvm::isa<::sbpf::netfn::InstantType>($_self)">,
    "!netfn.instant", "::sbpf::netfn::InstantType">;

//===----------------------------------------------------------------------===//
// Program structure
//===----------------------------------------------------------------------===//

def Netfn_ProgramOp : Netfn_Op<"program", [
    IsolatedFromAbove, NoTerminator, NoRegionArguments, SingleBlock,
    Symbol, SymbolTable]> {
  let summary = "a whole program: events, state, init and handlers";
  let description = [{
    The unit of compilation: an AppNet element, a monitoring script, a plugin
    program. Its body holds only `netfn.event`, `netfn.state`, at most one
    `netfn.init` and `netfn.handler` ops. The optional `domain` attribute
    names the frontend it came from.

    ```mlir
    netfn.program @counters attributes {domain = "appnet"} {
      netfn.event @request "rpc.request" (body : !netfn.string<64>)
      netfn.state @req_count : ui32
      netfn.handler @req on @request {
        netfn.forward
      }
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [OpBuilder<(ins "::llvm::StringRef":$name)>];
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    /// The state declarations, in order.
    auto getStateOps() { return getBodyBlock().getOps<StateOp>(); }
  }];
}

def Netfn_EventOp : Netfn_Op<"event", [
    HasParent<"ProgramOp">, Symbol]> {
  let summary = "declares an event kind and the typed fields it carries";
  let description = [{
    `netfn.event @sym "kind" (name : type, ...)` declares an event that
    handlers bind to. `kind` says where it comes from (`rpc.request`,
    `rpc.response`, `packet`, `tracepoint:sched:sched_switch`, ...); the
    fields are what `netfn.field.get` can read, with their types. Field
    values are the event's input; `netfn.field.set` rewrites them in place.

    The optional `wire_layout` says where each field lives in the event's
    record, for the backends: one dictionary per field with `source` (for
    AppNet: `header`, `payload` or `packet_type`), and for bytes in a record
    `offset` and `size` in bytes and `encoding` (`u8`..`u64`, `s32`, `s64`,
    `bool`, `f32`, `f64`, or `str`: NUL-padded bytes). It does not change the
    meaning of the ops.

    ```mlir
    netfn.event @request "rpc.request" (rpc_id : ui64, user : !netfn.string<32>)
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$kind,
                       StrArrayAttr:$field_names, TypeArrayAttr:$field_types,
                       OptionalAttr<DictArrayAttr>:$wire_layout);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The type of field `name`, or null when the event has no such field.
    ::mlir::Type getFieldType(::llvm::StringRef name);
  }];
}

def Netfn_StateOp : Netfn_Op<"state", [HasParent<"ProgramOp">, Symbol]> {
  let summary = "declares a piece of program state";
  let description = [{
    State persists across events. A scalar state variable (any value type)
    starts at zero (the empty string, `false`, instant 0) unless `netfn.init`
    writes it; a map starts empty; a log starts with zero records. Optional
    attributes carry the frontend's annotations (`consistency`, `combiner`,
    `persistence`); they do not change the meaning of the ops.

    ```mlir
    netfn.state @in_flight : si32
    netfn.state @sticky : !netfn.map<!netfn.string<32>, ui32, 1024>
    netfn.state @samples : !netfn.log<f64>
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, TypeAttr:$type);
  let assemblyFormat = "$sym_name `:` $type attr-dict";
  let hasVerifier = 1;
}

def Netfn_InitOp : Netfn_Op<"init", [HasParent<"ProgramOp">, NoRegionArguments]> {
  let summary = "code that runs once, before the first event";
  let description = [{
    Runs once when the program is installed, before any handler, in a state
    where every variable is zero and every map and log is empty. It may read
    and write state and use `netfn.now`/`netfn.random` (drawn at install
    time); it reads no event and ends with `netfn.return`.

    ```mlir
    netfn.init {
      %c = netfn.const 8 : si32
      netfn.state.write @limit, %c : si32
      netfn.return
    }
    ```
  }];
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "attr-dict-with-keyword $body";
}

def Netfn_HandlerOp : Netfn_Op<"handler", [
    HasParent<"ProgramOp">, NoRegionArguments, Symbol,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "code that runs on every occurrence of an event";
  let description = [{
    `netfn.handler @name on @event { ... }` runs for each occurrence of
    `@event`, atomically with respect to the program's state, and ends in a
    verdict: `netfn.forward` or `netfn.reject`, which may also appear in
    nested regions (an early exit).

    Its meaning is a function from (the event's field values, the state, the
    map contents, the sequence of random draws, the sequence of clock
    readings) to (the verdict, the new field values, the new state and map
    contents, the records appended to logs).

    ```mlir
    netfn.handler @resp on @response {
      netfn.forward
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, FlatSymbolRefAttr:$event);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name `on` $event attr-dict-with-keyword $body";
  let extraClassDeclaration = [{
    /// The event declaration this handler is bound to (null if unresolved).
    EventOp getEventDecl();
  }];
}

//===----------------------------------------------------------------------===//
// Terminators
//===----------------------------------------------------------------------===//

def Netfn_ForwardOp : Netfn_Op<"forward", [Terminator]> {
  let summary = "ends the handler and lets the event proceed";
  let description = [{
    Ends the enclosing handler with the verdict *forward*: a request goes on
    to the server, a response to the client, a packet on its way, a probe
    returns normally. Field writes made by the handler are kept.

    ```mlir
    netfn.forward
    ```
  }];
  let assemblyFormat = "attr-dict";
  let hasVerifier = 1;
}

def Netfn_RejectOp : Netfn_Op<"reject", [Terminator]> {
  let summary = "ends the handler and drops the event with a reason";
  let description = [{
    Ends the enclosing handler with the verdict *reject(reason)*: the RPC is
    aborted with an error carrying `reason`, the packet is dropped. The
    reason is a non-empty identifier that backends count per reason. Field
    writes made before a reject are not observable (the event is gone), so
    two programs that reject alike are equivalent whatever they wrote to
    fields; state, map and log effects made before the reject are kept.

    ```mlir
    netfn.reject "fault_injected"
    ```
  }];
  let arguments = (ins StrAttr:$reason);
  let assemblyFormat = "$reason attr-dict";
  let hasVerifier = 1;
}

def Netfn_ReturnOp : Netfn_Op<"return", [Terminator, HasParent<"InitOp">]> {
  let summary = "ends the init code";
  let description = [{
    The terminator of `netfn.init`'s body.

    ```mlir
    netfn.return
    ```
  }];
  let assemblyFormat = "attr-dict";
}

def Netfn_YieldOp : Netfn_Op<"yield", [Pure, Terminator, ReturnLike,
    ParentOneOf<["IfOp", "MatchOp", "MatchOptionOp", "ForeachOp"]>]> {
  let summary = "ends a nested region and continues after its parent op";
  let description = [{
    Ends a region of `netfn.if`, `netfn.match`, `netfn.match_option` or
    `netfn.foreach`; control continues after (or, in a loop, with the next
    iteration of) the parent op, whose results are the yielded values.

    ```mlir
    netfn.yield %x : ui32
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

//===----------------------------------------------------------------------===//
// Values and arithmetic
//===----------------------------------------------------------------------===//

def Netfn_ConstOp : Netfn_Op<"const", [ConstantLike, Pure]> {
  let summary = "a constant value";
  let description = [{
    A literal of a scalar type: an integer (`5 : ui32`, `-1 : si32`), a
    boolean (`true : i1`), an f64 (`9.5e-01 : f64`), a string
    (`"deny" : !netfn.string<16>`, at most the capacity in bytes), or a
    fixed-point number given by its raw integer (`raw(4080218931) :
    !netfn.fixed<64, 32>` is 0.95).

    ```mlir
    %c = netfn.const 8 : si32
    ```
  }];
  let arguments = (ins AnyAttr:$value);
  let results = (outs Netfn_Scalar:$result);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let hasFolder = 1;
  let skipDefaultBuilders = 1;
  let builders = [OpBuilder<(ins "::mlir::Type":$type, "::mlir::Attribute":$value)>];
  let extraClassDeclaration = [{
    /// Why `value` is not a valid constant of `type`, or "" when it is.
    static std::string describeMismatch(::mlir::Type type, ::mlir::Attribute value);
  }];
}

class Netfn_BinaryOp<string mnemonic, TypeConstraint ty, string meaning,
                      list<Trait> traits = []>
    : Netfn_Op<mnemonic, !listconcat(traits, [Pure, SameOperandsAndResultType])> {
  let arguments = (ins ty:$lhs, ty:$rhs);
  let results = (outs ty:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
  let description = meaning # [{

    ```mlir
    %r = netfn.}] # mnemonic # [{ %a, %b : ui32
    ```
  }];
}

def Netfn_AddOp : Netfn_BinaryOp<"add", Netfn_Numeric, [{
    `a + b`. Integers and fixed-point numbers wrap modulo 2^width; f64 is an
    IEEE-754 binary64 addition rounding to nearest, ties to even.
  }], [Commutative]> { let summary = "addition"; }
def Netfn_SubOp : Netfn_BinaryOp<"sub", Netfn_Numeric, [{
    `a - b`, wrapping for integers and fixed-point numbers, IEEE-754 for f64.
  }]> { let summary = "subtraction"; }
def Netfn_MulOp : Netfn_BinaryOp<"mul", Netfn_Numeric, [{
    `a * b`. Integers wrap modulo 2^width; fixed-point multiplies in twice the
    width and shifts right arithmetically by the scale, then truncates; f64 is
    IEEE-754.
  }], [Commutative]> { let summary = "multiplication"; }
def Netfn_DivOp : Netfn_BinaryOp<"div", Netfn_Numeric, [{
    `a / b`. Unsigned integers: unsigned division. Signed integers: division
    truncating toward zero, `MIN / -1 = MIN`. Integers and fixed-point
    numbers: `x / 0 = 0`, as in eBPF. Fixed-point: `(a << F) / b` in twice the
    width, truncating toward zero. f64: IEEE-754 (so `x / 0.0` is an infinity
    or NaN).
  }]> { let summary = "division (x / 0 = 0 for integers)"; }
def Netfn_RemOp : Netfn_BinaryOp<"rem", Netfn_Int, [{
    `a % b` for integers: unsigned remainder for unsigned types; for signed
    types the remainder has the sign of `a` (`a - (a / b) * b`, so
    `MIN % -1 = 0`). `x % 0 = x`, as in eBPF.
  }]> { let summary = "integer remainder (x % 0 = x)"; }
def Netfn_AndOp : Netfn_BinaryOp<"and", Netfn_BitsLike, [{
    Bitwise and of two integers, or the logical and of two booleans. Both
    operands are already evaluated: short-circuit code uses `netfn.if`.
  }], [Commutative]> { let summary = "bitwise/logical and"; }
def Netfn_OrOp : Netfn_BinaryOp<"or", Netfn_BitsLike, [{
    Bitwise or of two integers, or the logical or of two booleans.
  }], [Commutative]> { let summary = "bitwise/logical or"; }
def Netfn_XorOp : Netfn_BinaryOp<"xor", Netfn_BitsLike, [{
    Bitwise exclusive or of two integers or booleans.
  }], [Commutative]> { let summary = "bitwise/logical exclusive or"; }
def Netfn_MinOp : Netfn_BinaryOp<"min", Netfn_Ordered, [{
    `a < b ? a : b` by the order of `netfn.cmp lt` for the type (so for
    f64 with a NaN operand the result is `b`).
  }], [Commutative]> { let summary = "minimum"; }
def Netfn_MaxOp : Netfn_BinaryOp<"max", Netfn_Ordered, [{
    The larger operand: `a > b ? a : b` by the order of `netfn.cmp gt`.
  }], [Commutative]> { let summary = "maximum"; }

def Netfn_NotOp : Netfn_Op<"not", [Pure, SameOperandsAndResultType]> {
  let summary = "logical negation";
  let description = [{
    `!a` for a boolean.

    ```mlir
    %n = netfn.not %c : i1
    ```
  }];
  let arguments = (ins Netfn_Bool:$operand);
  let results = (outs Netfn_Bool:$result);
  let assemblyFormat = "$operand attr-dict `:` type($result)";
}

def Netfn_CmpPredicate : I64EnumAttr<"CmpPredicate", "comparison predicate", [
    I64EnumAttrCase<"eq", 0>, I64EnumAttrCase<"ne", 1>,
    I64EnumAttrCase<"lt", 2>, I64EnumAttrCase<"le", 3>,
    I64EnumAttrCase<"gt", 4>, I64EnumAttrCase<"ge", 5>]> {
  let cppNamespace = "::sbpf::netfn";
}

def Netfn_CmpOp : Netfn_Op<"cmp", [Pure, SameTypeOperands]> {
  let summary = "comparison";
  let description = [{
    Compares two values of the same type and yields an i1. `eq`/`ne` apply
    to every scalar and pair type (strings by length and bytes, pairs
    componentwise, f64 as IEEE-754 so NaN equals nothing); `lt`, `le`,
    `gt`, `ge` apply to ordered types: integers by their signedness,
    fixed-point as signed raw values, instants as unsigned, f64 as IEEE-754
    ordered comparisons (false when either is NaN).

    ```mlir
    %c = netfn.cmp lt, %in_flight, %limit : si32
    ```
  }];
  let arguments = (ins Netfn_CmpPredicate:$predicate, Netfn_Value:$lhs,
                       Netfn_Value:$rhs);
  let results = (outs Netfn_Bool:$result);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
}

def Netfn_SelectOp : Netfn_Op<"select", [Pure,
    AllTypesMatch<["trueValue", "falseValue", "result"]>]> {
  let summary = "choose one of two values";
  let description = [{
    `cond ? a : b`; both operands are already evaluated.

    ```mlir
    %v = netfn.select %c, %a, %b : ui32
    ```
  }];
  let arguments = (ins Netfn_Bool:$condition, Netfn_Value:$trueValue,
                       Netfn_Value:$falseValue);
  let results = (outs Netfn_Value:$result);
  let assemblyFormat = "$condition `,` $trueValue `,` $falseValue attr-dict `:` type($result)";
}

def Netfn_CastOp : Netfn_Op<"cast", [Pure]> {
  let summary = "converts a value to another scalar type";
  let description = [{
    The allowed conversions and their meaning:
    - integer → integer: truncation to the smaller width, or extension by
      the *source* signedness (sign- or zero-extension);
    - i1 → integer: false is 0, true is 1;
    - integer → f64: the nearest binary64 (ties to even);
    - f64 → integer: truncation toward zero, saturating at the type's bounds,
      NaN to 0;
    - integer → fixed<W, F>: `v * 2^F` wrapped to W bits;
      fixed → integer: arithmetic shift right by F (toward minus infinity),
      then as integer → integer from a signed W-bit value;
    - fixed → fixed: shift by the difference in scale in max(W1, W2) bits
      (right shifts are arithmetic, so a larger scale loses no high bits
      before the wrap), then wrap to the new width;
    - f64 → fixed: `round_toward_zero(v * 2^F)` saturating, NaN to 0; fixed → f64:
      `raw / 2^F` rounded to nearest;
    - instant ↔ ui64: the nanosecond count;
    - string<N> → string<M>: the same bytes, truncated to the first M when
      longer.

    ```mlir
    %f = netfn.cast %n : ui32 to f64
    ```
  }];
  let arguments = (ins Netfn_Scalar:$input);
  let results = (outs Netfn_Scalar:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
  let hasVerifier = 1;
}

def Netfn_BitcastOp : Netfn_Op<"bitcast", [Pure]> {
  let summary = "reinterprets the bits of an integer as fixed point, or back";
  let description = [{
    Between an integer and a `!netfn.fixed<W, F>` of the same width W: the
    result has exactly the operand's bits, so an integer `n` becomes the
    fixed-point number `n / 2^F` (read as signed W-bit), and a fixed-point
    number becomes its raw value. This is how exact values such as
    `r / 2^32` for a random draw `r` are written without rounding.

    ```mlir
    %u = netfn.bitcast %r64 : ui64 to !netfn.fixed<64, 32>
    ```
  }];
  let arguments = (ins Netfn_Scalar:$input);
  let results = (outs Netfn_Scalar:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
  let hasVerifier = 1;
}

def Netfn_PairMakeOp : Netfn_Op<"pair", [Pure]> {
  let summary = "builds a pair";
  let description = [{
    ```mlir
    %p = netfn.pair %a, %b : ui32, f64 -> !netfn.pair<ui32, f64>
    ```
  }];
  let arguments = (ins Netfn_Value:$first, Netfn_Value:$second);
  let results = (outs Netfn_Pair:$result);
  let assemblyFormat = "$first `,` $second attr-dict `:` type($first) `,` type($second) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Netfn_FirstOp : Netfn_Op<"first", [Pure,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "first element of a pair";
  let description = [{
    ```mlir
    %a = netfn.first %p : !netfn.pair<ui32, f64>
    ```
  }];
  let arguments = (ins Netfn_Pair:$pair);
  let results = (outs Netfn_Value:$result);
  let assemblyFormat = "$pair attr-dict `:` qualified(type($pair))";
}

def Netfn_SecondOp : Netfn_Op<"second", [Pure,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "second element of a pair";
  let description = [{
    ```mlir
    %b = netfn.second %p : !netfn.pair<ui32, f64>
    ```
  }];
  let arguments = (ins Netfn_Pair:$pair);
  let results = (outs Netfn_Value:$result);
  let assemblyFormat = "$pair attr-dict `:` qualified(type($pair))";
}

def Netfn_StringLenOp : Netfn_Op<"string.len", [Pure]> {
  let summary = "length of a string in bytes";
  let description = [{
    ```mlir
    %n = netfn.string.len %body : !netfn.string<64>
    ```
    The result is a ui32.
  }];
  let arguments = (ins Netfn_String:$input);
  let results = (outs UI32:$result);
  let assemblyFormat = "$input attr-dict `:` qualified(type($input))";
}

def Netfn_StringXorOp : Netfn_Op<"string.xor", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "XOR with a repeating key";
  let description = [{
    Byte `i` of the result is `s[i] ^ key[i mod len(key)]`; the result has
    the length and type of `s`. With an empty key the result is `s`.

    ```mlir
    %e = netfn.string.xor %body, %key : !netfn.string<64>, !netfn.string<8>
    ```
  }];
  let arguments = (ins Netfn_String:$input, Netfn_String:$key);
  let results = (outs Netfn_String:$result);
  let assemblyFormat = "$input `,` $key attr-dict `:` qualified(type($input)) `,` qualified(type($key))";
}

//===----------------------------------------------------------------------===//
// Nondeterminism
//===----------------------------------------------------------------------===//

def Netfn_RandomOp : Netfn_Op<"random", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "the next random draw";
  let description = [{
    The next element of the handler's sequence of random draws, each a ui32
    uniform over [0, 2^32) and independent of the others. The i-th executed
    `netfn.random` of a handler run is the i-th draw; a backend must make
    exactly the same draws in the same order (in eBPF, `bpf_get_prandom_u32`).

    ```mlir
    %r = netfn.random : ui32
    ```
  }];
  let results = (outs UI32:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Netfn_NowOp : Netfn_Op<"now", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "reads the monotonic clock";
  let description = [{
    The next element of the handler's sequence of clock readings. Readings
    within one run never decrease. In eBPF, `bpf_ktime_get_ns`.

    ```mlir
    %t = netfn.now : !netfn.instant
    ```
  }];
  let results = (outs Netfn_Instant:$result);
  let assemblyFormat = "attr-dict `:` qualified(type($result))";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Events, state, maps and logs
//===----------------------------------------------------------------------===//

def Netfn_FieldGetOp : Netfn_Op<"field.get", [
    MemoryEffects<[MemRead]>, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "reads a field of the handler's event";
  let description = [{
    The current value of field `name` of the event the enclosing handler is
    bound to (its value on entry, or the last `netfn.field.set`).

    ```mlir
    %u = netfn.field.get "user" : !netfn.string<32>
    ```
  }];
  let arguments = (ins StrAttr:$field);
  let results = (outs Netfn_Scalar:$result);
  let assemblyFormat = "$field attr-dict `:` type($result)";
}

def Netfn_FieldSetOp : Netfn_Op<"field.set", [
    MemoryEffects<[MemWrite]>, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "rewrites a field of the handler's event";
  let description = [{
    Sets field `name` of the event; a forwarded event carries the new value.

    ```mlir
    netfn.field.set "body", %e : !netfn.string<64>
    ```
  }];
  let arguments = (ins StrAttr:$field, Netfn_Scalar:$value);
  let assemblyFormat = "$field `,` $value attr-dict `:` type($value)";
}

def Netfn_StateReadOp : Netfn_Op<"state.read", [
    MemoryEffects<[MemRead]>, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "reads a scalar state variable";
  let description = [{
    ```mlir
    %n = netfn.state.read @in_flight : si32
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$state);
  let results = (outs Netfn_Value:$result);
  let assemblyFormat = "$state attr-dict `:` type($result)";
}

def Netfn_StateWriteOp : Netfn_Op<"state.write", [
    MemoryEffects<[MemWrite]>, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "writes a scalar state variable";
  let description = [{
    The write is visible to every later read, in this run and in later runs
    of any handler.

    ```mlir
    netfn.state.write @in_flight, %n : si32
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$state, Netfn_Value:$value);
  let assemblyFormat = "$state `,` $value attr-dict `:` type($value)";
}

def Netfn_MapGetOp : Netfn_Op<"map.get", [
    MemoryEffects<[MemRead]>, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "looks a key up in a map";
  let description = [{
    `Some(v)` if the map holds `key ↦ v`, else `None`.

    ```mlir
    %o = netfn.map.get @sticky[%user] : !netfn.string<32> -> !netfn.option<ui32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$map, Netfn_Value:$key);
  let results = (outs Netfn_Option:$result);
  let assemblyFormat = "$map `[` $key `]` attr-dict `:` type($key) `->` qualified(type($result))";
}

def Netfn_MapSetOp : Netfn_Op<"map.set", [
    MemoryEffects<[MemWrite]>, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "inserts or replaces a map entry";
  let description = [{
    Makes `key ↦ value` hold. If the key is absent and the map already holds
    its capacity of entries, the map is left unchanged.

    ```mlir
    netfn.map.set @sticky[%user], %tag : !netfn.string<32>, ui32
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$map, Netfn_Value:$key, Netfn_Value:$value);
  let assemblyFormat = "$map `[` $key `]` `,` $value attr-dict `:` type($key) `,` type($value)";
}

def Netfn_MapDeleteOp : Netfn_Op<"map.delete", [
    MemoryEffects<[MemWrite]>, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "removes a map entry";
  let description = [{
    Removes `key` and its value; nothing happens if the key is absent.

    ```mlir
    netfn.map.delete @started[%id] : ui32
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$map, Netfn_Value:$key);
  let assemblyFormat = "$map `[` $key `]` attr-dict `:` type($key)";
}

def Netfn_LogAppendOp : Netfn_Op<"log.append", [
    MemoryEffects<[MemWrite]>, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "appends a record to a log";
  let description = [{
    Appends the record `(values...)` to the log and increments its size by
    one. The record is emitted to user space.

    ```mlir
    netfn.log.append @samples(%dt) : f64
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$log, Variadic<Netfn_Value>:$values);
  let assemblyFormat = "$log `(` $values `)` attr-dict `:` type($values)";
}

def Netfn_LogSizeOp : Netfn_Op<"log.size", [
    MemoryEffects<[MemRead]>, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "number of records appended to a log";
  let description = [{
    ```mlir
    %n = netfn.log.size @samples : ui64
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$log);
  let results = (outs UI64:$result);
  let assemblyFormat = "$log attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Structured control flow
//===----------------------------------------------------------------------===//

def Netfn_IfOp : Netfn_Op<"if", [NoRegionArguments]> {
  let summary = "two-way branch";
  let description = [{
    Runs `then` if the condition holds, else `else`. A region ends with
    `netfn.yield` (whose values become the op's results) or with a verdict
    (`netfn.forward`/`netfn.reject`), which ends the whole handler.

    ```mlir
    %r = netfn.if %c -> (si32) {
      netfn.yield %a : si32
    } else {
      netfn.reject "too_many_in_flight"
    }
    ```
  }];
  let arguments = (ins Netfn_Bool:$condition);
  let results = (outs Variadic<Netfn_Value>:$results);
  let regions = (region SizedRegion<1>:$thenRegion, SizedRegion<1>:$elseRegion);
  let assemblyFormat = [{
    $condition (`->` `(` type($results)^ `)`)? $thenRegion `else` $elseRegion attr-dict
  }];
  let hasVerifier = 1;
}

def Netfn_MatchOp : Netfn_Op<"match", [NoRegionArguments]> {
  let summary = "multi-way branch on literal values";
  let description = [{
    Compares the scrutinee with each case literal in order (by `netfn.cmp
    eq`) and runs the region of the first that is equal, else the `default`
    region. Case literals are distinct constants of the scrutinee's type.
    Regions end as in `netfn.if`.

    ```mlir
    netfn.match %rule : !netfn.string<16> {
    case "deny" {
      netfn.reject "denied_by_acl"
    }
    default {
      netfn.yield
    }
    }
    ```
  }];
  let arguments = (ins Netfn_Scalar:$scrutinee, ArrayAttr:$cases);
  let results = (outs Variadic<Netfn_Value>:$results);
  // The default region comes first because only the last can be variadic.
  let regions = (region SizedRegion<1>:$defaultRegion,
                 VariadicRegion<SizedRegion<1>>:$caseRegions);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
}

def Netfn_MatchOptionOp : Netfn_Op<"match_option", []> {
  let summary = "branch on whether an optional holds a value";
  let description = [{
    Runs `some` with its block argument bound to the value if the optional is
    `Some(v)`, else `none`. Regions end as in `netfn.if`.

    ```mlir
    netfn.match_option %o : !netfn.option<ui32> some(%tag) {
      netfn.yield
    } none {
      netfn.yield
    }
    ```
  }];
  let arguments = (ins Netfn_Option:$optional);
  let results = (outs Variadic<Netfn_Value>:$results);
  let regions = (region SizedRegion<1>:$someRegion, SizedRegion<1>:$noneRegion);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
}

def Netfn_ForeachOp : Netfn_Op<"foreach", [
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "bounded iteration over the records of a log";
  let description = [{
    Runs the body once per record of the log, oldest first, over at most
    `bound` records: the first `min(size, bound)`, where size is the log's
    size when the loop starts (records the body appends are not visited).
    The body's block
    arguments are the record's fields followed by the loop-carried values
    (initially `iter` operands); the body yields the next loop-carried
    values, which after the last iteration are the op's results. A verdict
    in the body ends the handler. The static bound is what makes the loop
    acceptable to the kernel.

    ```mlir
    %sum = netfn.foreach @samples bound 64 iter(%zero) : (f64) -> f64 {
    ^bb0(%x: f64, %acc: f64):
      %s = netfn.add %acc, %x : f64
      netfn.yield %s : f64
    }
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$log, I64Attr:$bound,
                       Variadic<Netfn_Value>:$iterInits);
  let results = (outs Variadic<Netfn_Value>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $log `bound` $bound (`iter` `(` $iterInits^ `)`)? `:` functional-type($iterInits, $results) $body attr-dict
  }];
  let hasVerifier = 1;
}

#endif // SBPF_NETFN_OPS_TD
